import { Context } from '@temporalio/activity';
import type { CompressionCodec } from '../domain/compression';
import type { DirectRoute } from '../domain/schemas/direct-route';
import type { HostRef } from '../domain/schemas/host';
import { batchExtents, MiB, type Extent } from '../domain/transfer-plan';
import type { RelayResult } from '../hosts/extent-relay';
import { describeHost, type SshSession } from '../hosts/ssh-session';
import { copyExtents } from './copy-extents';
import { throttledHeartbeat, withHost, type ActivityDeps } from './deps';
import { assertWritable, requireRegularFile } from './writable-paths';

/** What a range activity's input says about its copy: both ends, and how the bytes travel. */
export interface RangeCopyInput {
  source: HostRef;
  destination: HostRef;
  sourcePath: string;
  destinationPath: string;
  compression?: CompressionCodec;
  /** This stream's share of the operation's bandwidth limit. */
  bytesPerSecond?: number;
  /**
   * Push straight from the source host, by the route in the worker's config (hosts.<source>.direct.<destination>);
   * absent: relay.
   */
  direct?: boolean;
  /** The progress label of the file, echoed in heartbeats so live progress can be shown per disk. */
  label?: string;
}

/** What copyBatches tells about the batches of one call. */
export interface BatchReport {
  /** Wire bytes of the batch on its way, so far; compressed ones when compressing. */
  onBytes(batchWireBytes: number): void;
  /** The destination confirmed a batch: everything before `end` of its extents is written. */
  onBatch?(relayed: RelayResult, end: number): void;
}

/** One attempt of a range activity: its sessions, where a lost attempt got to, and its heartbeat. */
export interface RangeCopy<P> {
  source: SshSession;
  destination: SshSession;
  /** The heartbeat details of the attempt before this one, if it got to send any. */
  resumed: P | undefined;
  /** Heartbeats at most once a second, unless forced; a cancellation sends what was held back. */
  heartbeat(details: P, force?: boolean): void;
  signal: AbortSignal;
  /** Copies `extents` batch by batch, in order; returns what they wrote and sent. */
  batches(extents: readonly Extent[], report: BatchReport): Promise<RelayResult>;
}

/**
 * A batch is one remote command pair and the grain of resume: a killed worker costs at
 * most one batch per stream, and 128 MiB keeps the per-batch channel setup near 1%.
 */
const batchBytes = 128 * MiB;
const batchExtentLimit = 256;

/** The two ends of one attempt's copy, checked, and how its bytes travel. */
interface CopyEnds {
  source: SshSession;
  destination: SshSession;
  direct: DirectRoute | undefined;
  signal: AbortSignal;
}

/** Copies `extents` batch by batch, in order: each batch is confirmed written before the next starts. */
async function copyInBatches(
  ends: CopyEnds,
  input: RangeCopyInput,
  extents: readonly Extent[],
  report: BatchReport,
): Promise<RelayResult> {
  const total: RelayResult = { dataBytes: 0, wireBytes: 0 };
  for (const batch of batchExtents(extents, batchBytes, batchExtentLimit)) {
    let batchWireBytes = 0;
    const relayed = await copyExtents({
      source: ends.source,
      destination: ends.destination,
      sourcePath: input.sourcePath,
      destinationPath: input.destinationPath,
      extents: batch,
      signal: ends.signal,
      ...(input.compression ? { compression: input.compression } : {}),
      ...(input.bytesPerSecond ? { bytesPerSecond: input.bytesPerSecond } : {}),
      ...(ends.direct ? { direct: ends.direct } : {}),
      onBytes: (bytes) => {
        batchWireBytes += bytes;
        report.onBytes(batchWireBytes);
      },
    });
    const last = batch[batch.length - 1]!;
    total.dataBytes += relayed.dataBytes;
    total.wireBytes += relayed.wireBytes;
    report.onBatch?.(relayed, last.start + last.length);
  }
  return total;
}

/**
 * Runs one attempt of a range activity (transferRange, syncRange): opens both hosts,
 * checks that the destination file may be written, and hands `body` the heartbeat details
 * a lost attempt left, so that it resumes after the last batch the destination confirmed.
 */
export function copyBatches<P, R>(
  deps: ActivityDeps,
  input: RangeCopyInput,
  body: (copy: RangeCopy<P>) => Promise<R>,
): Promise<R> {
  return withHost(deps, input.source, (source) =>
    withHost(deps, input.destination, async (destination) => {
      const context = Context.current();
      // The route is the worker's own config; the input only asks for direct mode.
      const direct = input.direct ? deps.hosts.directRoute(input.source, input.destination) : undefined;
      // Only into a regular file under the destination's writable roots, whatever the workflow computed.
      const [target] = await assertWritable(destination, [input.destinationPath], 'destination file');
      requireRegularFile(target!, describeHost(destination.host), 'destination file');
      const ends: CopyEnds = { source, destination, direct, signal: context.cancellationSignal };
      return body({
        source,
        destination,
        resumed: context.info.heartbeatDetails as P | undefined,
        heartbeat: throttledHeartbeat(),
        signal: ends.signal,
        batches: (extents, report) => copyInBatches(ends, input, extents, report),
      });
    }),
  );
}
