import { Context } from '@temporalio/activity';
import type { CompressionCodec } from '../domain/compression';
import type { HostRef } from '../domain/schemas/host';
import { batchExtents, extentsFrom, MiB, totalLength, type TransferRange } from '../domain/transfer-plan';
import { copyExtents } from './copy-extents';
import { RemoteDisk } from '../hosts/remote-disk';
import { describeHost } from '../hosts/ssh-session';
import { activityBody, throttledHeartbeat, withHost, type ActivityDeps } from './deps';
import { assertWritable, requireRegularFile } from './writable-paths';

export interface TransferRangeInput {
  source: HostRef;
  destination: HostRef;
  sourcePath: string;
  destinationPath: string;
  range: TransferRange;
  compression?: CompressionCodec;
  /** This stream's share of the operation's bandwidth limit. */
  bytesPerSecond?: number;
  /** Push straight from the source host, by the route in the worker's config (hosts.<source>.direct.<destination>); absent: relay. */
  direct?: boolean;
  /** The progress label of the file, echoed in heartbeats so live progress can be shown per disk. */
  label?: string;
}

/** Heartbeat details: everything before `committedOffset` is written on the destination. */
export interface TransferProgress {
  committedOffset: number;
  /** Data bytes of this range confirmed written: what a retry will not send again. */
  bytesCommitted: number;
  /** Data bytes on their way or written, for progress reports. */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes sent over the wire by this attempt and earlier ones. */
  bytesSent: number;
  target?: string;
}

export interface TransferRangeResult {
  bytesSent: number;
  dataBytes: number;
  /** Bytes this attempt did not send because an earlier attempt had written them. */
  bytesResumed: number;
}

/**
 * A batch is one remote command pair and the grain of resume: a killed worker costs at
 * most one batch per stream, and 128 MiB keeps the per-batch channel setup near 1%.
 */
const batchBytes = 128 * MiB;
const batchExtentLimit = 256;

export function transferRange(deps: ActivityDeps) {
  /**
   * Copies the data extents of one range of a file, source host → worker → destination
   * host. A retry resumes after the last batch the destination confirmed.
   */
  return async function transferRange(input: TransferRangeInput): Promise<TransferRangeResult> {
    return activityBody(() =>
      withHost(deps, input.source, (source) =>
        withHost(deps, input.destination, async (destination) => {
          const context = Context.current();
          // The route is the worker's own config; the input only asks for direct mode.
          const direct = input.direct ? deps.hosts.directRoute(input.source, input.destination) : undefined;
          // Only into a regular file under the destination's writable roots, whatever the workflow computed.
          const [target] = await assertWritable(destination, [input.destinationPath], 'destination file');
          requireRegularFile(target!, describeHost(destination.host), 'destination file');
          const resumed = context.info.heartbeatDetails as TransferProgress | undefined;
          const extents = await new RemoteDisk(source).dataExtents(input.sourcePath, input.range);
          const dataBytes = totalLength(extents);
          const remaining = extentsFrom(extents, resumed?.committedOffset ?? input.range.start);
          const bytesResumed = dataBytes - totalLength(remaining);
          const progress: TransferProgress = {
            committedOffset: resumed?.committedOffset ?? input.range.start,
            bytesCommitted: bytesResumed,
            bytesDone: bytesResumed,
            bytesTotal: dataBytes,
            bytesSent: resumed?.bytesSent ?? 0,
            ...(input.label ? { target: input.label } : {}),
          };
          const heartbeat = throttledHeartbeat();
          heartbeat(progress, true);
          for (const batch of batchExtents(remaining, batchBytes, batchExtentLimit)) {
            let wireInFlight = 0;
            const relayed = await copyExtents({
              source,
              destination,
              sourcePath: input.sourcePath,
              destinationPath: input.destinationPath,
              extents: batch,
              signal: context.cancellationSignal,
              ...(input.compression ? { compression: input.compression } : {}),
              ...(input.bytesPerSecond ? { bytesPerSecond: input.bytesPerSecond } : {}),
              ...(direct ? { direct } : {}),
              onBytes: (bytes) => {
                wireInFlight += bytes;
                // Wire bytes stand in for data bytes until the batch completes; compressed they undercount.
                heartbeat({
                  ...progress,
                  bytesDone: Math.min(progress.bytesCommitted + wireInFlight, progress.bytesTotal),
                  bytesSent: progress.bytesSent + wireInFlight,
                });
              },
            });
            const last = batch[batch.length - 1]!;
            progress.committedOffset = last.start + last.length;
            progress.bytesCommitted += relayed.dataBytes;
            progress.bytesDone = progress.bytesCommitted;
            progress.bytesSent += relayed.wireBytes;
            heartbeat(progress, true);
          }
          return { bytesSent: progress.bytesSent, dataBytes, bytesResumed };
        }),
      ),
    );
  };
}
