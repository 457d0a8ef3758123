import { Context } from '@temporalio/activity';
import type { HostRef } from '../domain/schemas/host';
import { batchExtents, extentsFrom, MiB, totalLength, type TransferRange } from '../domain/transfer-plan';
import { relayExtents } from '../hosts/extent-relay';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, throttledHeartbeat, withHost, type ActivityDeps } from './deps';

export interface TransferRangeInput {
  source: HostRef;
  destination: HostRef;
  sourcePath: string;
  destinationPath: string;
  range: TransferRange;
}

/** Heartbeat details: everything before `committedOffset` is written on the destination. */
export interface TransferProgress {
  committedOffset: number;
  /** Data bytes of this range already on the destination, for progress reports. */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes sent over the wire by this attempt and earlier ones. */
  bytesSent: number;
}

export interface TransferRangeResult {
  bytesSent: number;
  dataBytes: number;
  /** Bytes this attempt did not send because an earlier attempt had written them. */
  bytesResumed: number;
}

/** A batch is one remote command pair and the grain of resume: 256 MiB costs ~1% in pipeline refills. */
const batchBytes = 256 * MiB;
const batchExtentLimit = 256;

export function transferRange(deps: ActivityDeps) {
  /**
   * Copies the data extents of one range of a disk, source host → worker → destination
   * host. A retry resumes after the last batch the destination confirmed.
   */
  return async function transferRange(input: TransferRangeInput): Promise<TransferRangeResult> {
    return activityBody(() =>
      withHost(deps, input.source, (source) =>
        withHost(deps, input.destination, async (destination) => {
          const context = Context.current();
          const resumed = context.info.heartbeatDetails as TransferProgress | undefined;
          const extents = await new RemoteDisk(source).dataExtents(input.sourcePath, input.range);
          const dataBytes = totalLength(extents);
          const progress: TransferProgress = {
            committedOffset: resumed?.committedOffset ?? input.range.start,
            bytesDone: 0,
            bytesTotal: dataBytes,
            bytesSent: resumed?.bytesSent ?? 0,
          };
          const remaining = extentsFrom(extents, progress.committedOffset);
          const bytesResumed = dataBytes - totalLength(remaining);
          progress.bytesDone = bytesResumed;
          const heartbeat = throttledHeartbeat();
          heartbeat(progress, true);
          for (const batch of batchExtents(remaining, batchBytes, batchExtentLimit)) {
            let inFlight = 0;
            await relayExtents({
              source,
              destination,
              sourcePath: input.sourcePath,
              destinationPath: input.destinationPath,
              extents: batch,
              signal: context.cancellationSignal,
              onBytes: (bytes) => {
                inFlight += bytes;
                heartbeat({ ...progress, bytesDone: progress.bytesDone + inFlight, bytesSent: progress.bytesSent + inFlight });
              },
            });
            const last = batch[batch.length - 1]!;
            progress.committedOffset = last.start + last.length;
            progress.bytesDone += inFlight;
            progress.bytesSent += inFlight;
            heartbeat(progress, true);
          }
          return { bytesSent: progress.bytesSent, dataBytes, bytesResumed };
        }),
      ),
    );
  };
}
