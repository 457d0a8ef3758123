import type { OperationProgress } from '../workflows/progress';

/** What a running transferRange activity last reported in its heartbeat. */
export interface InFlightTransfer {
  bytesDone: number;
  /** The disk's progress label, when the heartbeat names it. */
  target?: string;
}

/**
 * Adds the bytes that running transfers have written to the workflow's count of completed
 * ranges. A transfer counts toward a disk when its heartbeat names the disk, or when only
 * one disk still has ranges to copy; otherwise only the overall count moves, since
 * guessing would make a disk's bar run ahead of its bytes.
 */
export function withInFlightBytes(
  progress: OperationProgress,
  transfers: readonly InFlightTransfer[],
): OperationProgress {
  const disks = progress.disks.map((disk) => ({ ...disk }));
  let bytesDone = progress.bytesDone;
  const copying = disks.filter((disk) => disk.phase === 'copying' && disk.bytesDone < disk.bytesTotal);
  for (const transfer of transfers) {
    bytesDone += transfer.bytesDone;
    const disk =
      transfer.target !== undefined
        ? disks.find((each) => each.target === transfer.target)
        : copying.length === 1
          ? copying[0]
          : undefined;
    if (disk) disk.bytesDone = Math.min(disk.bytesTotal, disk.bytesDone + transfer.bytesDone);
  }
  return { ...progress, disks, bytesDone: Math.min(bytesDone, progress.bytesTotal) };
}
