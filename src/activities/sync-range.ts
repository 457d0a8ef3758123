import { blockDelta, type BlockDelta, type BlockHashTool } from '../domain/block-delta';
import type { TrackedFileChanges } from '../domain/change-tracking';
import { boundExtents, clipExtents, mergeExtents } from '../domain/extent-set';
import { batchExtents, MiB, totalLength, type Extent } from '../domain/transfer-plan';
import { remoteBlockHashes } from '../hosts/block-hashes';
import { RemoteDisk } from '../hosts/remote-disk';
import type { SshSession } from '../hosts/ssh-session';
import { copyBatches, type RangeCopy, type RangeCopyInput } from './copy-batches';
import { activityBody, type ActivityDeps } from './deps';
import { whileTicking } from './heartbeat-ticker';

export interface SyncRangeInput extends RangeCopyInput {
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

/** What one step must write on the destination, and what comparing it found. */
interface StepWrites {
  copy: Extent[];
  punch: Extent[];
  blocksChanged: number;
  bytesUnchanged: number;
  bytesCompared: number;
}

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

/** Blocks that a step's extents touch, rounded up per extent. */
function blocksOf(extents: readonly Extent[], blockSize: number): number {
  return extents.reduce((sum, extent) => sum + Math.ceil(extent.length / blockSize), 0);
}

/**
 * What `step` must write, by the input's mode. Hashing a step takes minutes on a slow disk:
 * the ticker keeps the 30 s heartbeat going meanwhile, with the progress of the steps before.
 */
async function stepWrites(
  copy: RangeCopy<SyncProgress>,
  input: SyncRangeInput,
  step: Extent,
  progress: SyncProgress,
): Promise<StepWrites> {
  const compare = (extents: Extent[]) =>
    whileTicking(
      copy.heartbeat,
      () => progress,
      () => compareBlocks(copy.source, copy.destination, input, extents),
    );
  if (input.mode === 'tracked' && input.tracked && input.hashTool !== 'none') {
    const compared = clipExtents(input.tracked.compare, step);
    const changed = clipExtents(input.tracked.changed, step);
    const delta = await compare(compared);
    const bytesCompared = totalLength(compared);
    return {
      copy: mergeExtents([...delta.copy, ...changed]),
      punch: delta.punch,
      blocksChanged: delta.blocksChanged + blocksOf(changed, input.blockSize),
      // What the bitmap saw untouched counts as unchanged, with what compared equal.
      bytesUnchanged: step.length - totalLength(changed) - (bytesCompared - delta.bytesUnchanged),
      bytesCompared,
    };
  }
  if (input.mode !== 'full' && input.hashTool !== 'none')
    return { ...(await compare([step])), bytesCompared: step.length };
  // A block device's step is read whole to find its zeros: as long as hashing it.
  const data = await whileTicking(
    copy.heartbeat,
    () => progress,
    () => new RemoteDisk(copy.source).dataExtents(input.sourcePath, step),
  );
  return {
    copy: data,
    punch: [step],
    blocksChanged: Math.ceil(step.length / input.blockSize),
    bytesUnchanged: 0,
    bytesCompared: step.length,
  };
}

/** Where to start: after the last step a lost attempt finished, counting the bytes its unfinished step sent. */
function syncProgressFrom(resumed: SyncProgress | undefined, input: SyncRangeInput): SyncProgress {
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
  return progress;
}

/** Punches, then copies in batches, what one step must write; `bytesSentInStep` follows the copy. */
async function writeStep(
  copy: RangeCopy<SyncProgress>,
  input: SyncRangeInput,
  writes: StepWrites,
  progress: SyncProgress,
): Promise<void> {
  const destinationDisk = new RemoteDisk(copy.destination);
  for (const batch of batchExtents(writes.punch, Number.MAX_SAFE_INTEGER, 256))
    await destinationDisk.punchHoles(input.destinationPath, batch);
  let sentBefore = 0;
  await copy.batches(writes.copy, {
    onBytes: (batchWireBytes) => {
      progress.bytesSentInStep = sentBefore + batchWireBytes;
      copy.heartbeat(progress);
    },
    onBatch: (relayed) => {
      sentBefore += relayed.wireBytes;
      progress.bytesSentInStep = sentBefore;
    },
  });
}

/** Counts a finished step into the progress: from here on a retry starts after it. */
function commitStep(progress: SyncProgress, step: Extent, writes: StepWrites): void {
  progress.committedOffset = step.start + step.length;
  progress.bytesCompared += writes.bytesCompared;
  progress.bytesSent += progress.bytesSentInStep;
  progress.bytesSentInStep = 0;
  progress.blocksChanged += writes.blocksChanged;
  progress.bytesUnchanged += writes.bytesUnchanged;
}

export function syncRange(deps: ActivityDeps) {
  /**
   * Brings one tile of a destination file up to date with the source: both hosts hash
   * their blocks in place, and only the blocks that differ cross the wire (zero blocks
   * are punched instead). Resumes after the last step a lost attempt finished.
   */
  return async function syncRange(input: SyncRangeInput): Promise<SyncRangeResult> {
    return activityBody(() =>
      copyBatches<SyncProgress, SyncRangeResult>(deps, input, async (copy) => {
        const progress = syncProgressFrom(copy.resumed, input);
        copy.heartbeat(progress, true);
        const end = input.range.start + input.range.length;
        const written: Extent[] = [];
        while (progress.committedOffset < end) {
          copy.signal.throwIfAborted();
          const step = { start: progress.committedOffset, length: Math.min(stepBytes, end - progress.committedOffset) };
          const writes = await stepWrites(copy, input, step, progress);
          written.push(...writes.punch, ...writes.copy);
          await writeStep(copy, input, writes, progress);
          commitStep(progress, step, writes);
          copy.heartbeat(progress, true);
        }
        return {
          bytesCompared: progress.bytesCompared,
          bytesSent: progress.bytesSent,
          blocksChanged: progress.blocksChanged,
          bytesUnchanged: progress.bytesUnchanged,
          written: boundExtents(written, maxWrittenExtents),
        };
      }),
    );
  };
}
