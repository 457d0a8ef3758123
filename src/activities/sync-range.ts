import { Context } from '@temporalio/activity';
import { blockDelta, type BlockDelta, type BlockHashTool } from '../domain/block-delta';
import type { TrackedFileChanges } from '../domain/change-tracking';
import { boundExtents, clipExtents, mergeExtents } from '../domain/extent-set';
import type { CompressionCodec } from '../domain/compression';
import type { HostRef } from '../domain/schemas/host';
import { batchExtents, MiB, totalLength, type Extent } from '../domain/transfer-plan';
import { remoteBlockHashes } from '../hosts/block-hashes';
import { copyExtents } from './copy-extents';
import { RemoteDisk } from '../hosts/remote-disk';
import { describeHost, type SshSession } from '../hosts/ssh-session';
import { activityBody, throttledHeartbeat, withHost, type ActivityDeps } from './deps';
import { whileTicking } from './heartbeat-ticker';
import { assertWritable, requireRegularFile } from './writable-paths';

export interface SyncRangeInput {
  source: HostRef;
  destination: HostRef;
  sourcePath: string;
  destinationPath: string;
  /** A tile of the file, holes included: the destination may hold data where the source now has none. */
  range: Extent;
  /**
   * `delta` compares block hashes and sends what differs; `full` clears the tile and sends
   * all source data; `tracked` sends `tracked.changed` as is and compares only `tracked.compare`.
   */
  mode: 'delta' | 'full' | 'tracked';
  /** For `tracked`: the tile's part of what a checkpoint's bitmap found. */
  tracked?: TrackedFileChanges;
  hashTool: BlockHashTool;
  blockSize: number;
  compression?: CompressionCodec;
  bytesPerSecond?: number;
  /** Push straight from the source host, by the route in the worker's config (hosts.<source>.direct.<destination>); absent: relay. */
  direct?: boolean;
  label?: string;
}

/**
 * Heartbeat details: everything before `committedOffset` already matches the source, and
 * the counts are those of the finished steps. `bytesSentInStep` is what the current step
 * has sent so far, so a retry still accounts for the bytes a lost attempt put on the wire.
 */
export interface SyncProgress {
  committedOffset: number;
  bytesCompared: number;
  bytesSent: number;
  blocksChanged: number;
  bytesUnchanged: number;
  bytesSentInStep: number;
  /** The tile's length, so progress readers can tell a finished tile from a running one. */
  bytesTotal: number;
  target?: string;
}

export interface SyncRangeResult {
  bytesCompared: number;
  bytesSent: number;
  blocksChanged: number;
  bytesUnchanged: number;
  /**
   * What this attempt wrote (sent or punched), bounded in count: what the workflow checks
   * per range. A lost attempt's writes are not in it; the whole-file check covers them.
   */
  written: Extent[];
}

/** Extents a result lists as written: a superset is checked when there are more, and history stays small. */
const maxWrittenExtents = 1024;

/** Blocks hashed per step: the grain of resume and of heartbeats. */
const stepBytes = 256 * MiB;

/** Hashes `extents` on both hosts at once and compares: what differs, and how. */
async function compareBlocks(
  source: SshSession,
  destination: SshSession,
  input: SyncRangeInput,
  extents: Extent[],
): Promise<BlockDelta> {
  if (extents.length === 0 || input.hashTool === 'none')
    return { copy: [], punch: [], blocksChanged: 0, bytesUnchanged: 0 };
  const [sourceHashes, destinationHashes] = await Promise.all([
    remoteBlockHashes(source, input.hashTool, input.sourcePath, extents, input.blockSize),
    remoteBlockHashes(destination, input.hashTool, input.destinationPath, extents, input.blockSize),
  ]);
  return blockDelta(sourceHashes, destinationHashes, extents, input.blockSize);
}

export function syncRange(deps: ActivityDeps) {
  /**
   * Brings one tile of a destination file up to date with the source: both hosts hash
   * their blocks in place, and only the blocks that differ cross the wire (zero blocks
   * are punched instead). Resumes after the last step a lost attempt finished.
   */
  return async function syncRange(input: SyncRangeInput): Promise<SyncRangeResult> {
    return activityBody(() =>
      withHost(deps, input.source, (source) =>
        withHost(deps, input.destination, async (destination) => {
          const context = Context.current();
          // The route is the worker's own config; the input only asks for direct mode.
          const direct = input.direct ? deps.hosts.directRoute(input.source, input.destination) : undefined;
          // Only into a regular file under the destination's writable roots, whatever the workflow computed.
          const [target] = await assertWritable(destination, [input.destinationPath], 'destination file');
          requireRegularFile(target!, describeHost(destination.host), 'destination file');
          const resumed = context.info.heartbeatDetails as SyncProgress | undefined;
          const progress: SyncProgress = resumed
            ? { ...resumed, bytesSent: resumed.bytesSent + resumed.bytesSentInStep, bytesSentInStep: 0 }
            : {
                committedOffset: input.range.start,
                bytesCompared: 0,
                bytesSent: 0,
                blocksChanged: 0,
                bytesUnchanged: 0,
                bytesSentInStep: 0,
                bytesTotal: input.range.length,
              };
          if (input.label) progress.target = input.label;
          const heartbeat = throttledHeartbeat();
          heartbeat(progress, true);
          const end = input.range.start + input.range.length;
          const destinationDisk = new RemoteDisk(destination);
          const written: Extent[] = [];
          while (progress.committedOffset < end) {
            context.cancellationSignal.throwIfAborted();
            const step = {
              start: progress.committedOffset,
              length: Math.min(stepBytes, end - progress.committedOffset),
            };
            let copy: Extent[];
            let punch: Extent[];
            let blocksChanged: number;
            let bytesUnchanged = 0;
            let bytesCompared = step.length;
            if (input.mode === 'tracked' && input.tracked && input.hashTool !== 'none') {
              const compare = clipExtents(input.tracked.compare, step);
              const changed = clipExtents(input.tracked.changed, step);
              // Hashing a step takes minutes on a slow disk: the ticker keeps the 30 s heartbeat going.
              const delta = await whileTicking(
                heartbeat,
                () => progress,
                () => compareBlocks(source, destination, input, compare),
              );
              copy = mergeExtents([...delta.copy, ...changed]);
              punch = delta.punch;
              blocksChanged =
                delta.blocksChanged +
                changed.reduce((sum, extent) => sum + Math.ceil(extent.length / input.blockSize), 0);
              bytesCompared = totalLength(compare);
              // What the bitmap saw untouched counts as unchanged, with what compared equal.
              bytesUnchanged = step.length - totalLength(changed) - (bytesCompared - delta.bytesUnchanged);
            } else if (input.mode !== 'full' && input.hashTool !== 'none') {
              ({ copy, punch, blocksChanged, bytesUnchanged } = await whileTicking(
                heartbeat,
                () => progress,
                () => compareBlocks(source, destination, input, [step]),
              ));
            } else {
              punch = [step];
              copy = await new RemoteDisk(source).dataExtents(input.sourcePath, step);
              blocksChanged = Math.ceil(step.length / input.blockSize);
            }
            written.push(...punch, ...copy);
            for (const batch of batchExtents(punch, Number.MAX_SAFE_INTEGER, 256))
              await destinationDisk.punchHoles(input.destinationPath, batch);
            let sentBefore = 0;
            for (const batch of batchExtents(copy, 128 * MiB, 256)) {
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
                  progress.bytesSentInStep += bytes;
                  heartbeat(progress);
                },
              });
              progress.bytesSentInStep = sentBefore + relayed.wireBytes;
              sentBefore = progress.bytesSentInStep;
            }
            progress.committedOffset = step.start + step.length;
            progress.bytesCompared += bytesCompared;
            progress.bytesSent += progress.bytesSentInStep;
            progress.bytesSentInStep = 0;
            progress.blocksChanged += blocksChanged;
            progress.bytesUnchanged += bytesUnchanged;
            heartbeat(progress, true);
          }
          return {
            bytesCompared: progress.bytesCompared,
            bytesSent: progress.bytesSent,
            blocksChanged: progress.blocksChanged,
            bytesUnchanged: progress.bytesUnchanged,
            written: boundExtents(written, maxWrittenExtents),
          };
        }),
      ),
    );
  };
}
