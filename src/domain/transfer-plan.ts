/** A byte range of a file: [start, start + length). */
export interface Extent {
  start: number;
  length: number;
}

/** A window of a file's address space and how many data bytes lie inside it. */
export interface DataWindow extends Extent {
  dataBytes: number;
}

/** A piece of one disk that a single transfer activity copies. */
export interface TransferRange extends Extent {
  dataBytes: number;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function totalLength(extents: readonly Extent[]): number {
  return extents.reduce((sum, extent) => sum + extent.length, 0);
}

/**
 * Condenses a file's data extents into fixed windows that hold data, so that the plan
 * of a fragmented 100 GiB disk stays small enough for workflow history.
 */
export function summarizeExtents(extents: readonly Extent[], windowSize: number): DataWindow[] {
  const windows = new Map<number, DataWindow>();
  for (const extent of extents) {
    let position = extent.start;
    const end = extent.start + extent.length;
    while (position < end) {
      const windowStart = Math.floor(position / windowSize) * windowSize;
      const windowEnd = windowStart + windowSize;
      const piece = Math.min(end, windowEnd) - position;
      const window = windows.get(windowStart) ?? { start: windowStart, length: windowSize, dataBytes: 0 };
      window.dataBytes += piece;
      windows.set(windowStart, window);
      position += piece;
    }
  }
  return [...windows.values()].sort((a, b) => a.start - b.start);
}

/**
 * How much data one transfer activity should carry: enough ranges to keep `parallel`
 * streams busy and to resume at a fine grain, few enough to keep history short.
 */
export function targetRangeBytes(totalDataBytes: number, parallel: number): number {
  const wanted = Math.ceil(totalDataBytes / (parallel * 4));
  return Math.min(4 * GiB, Math.max(256 * MiB, wanted));
}

/**
 * Groups data windows into transfer ranges of about `targetBytes` data each. Ranges skip
 * windows without data and never extend past `fileSize`.
 */
export function planTransferRanges(
  windows: readonly DataWindow[],
  fileSize: number,
  targetBytes: number,
): TransferRange[] {
  const ranges: TransferRange[] = [];
  let current: TransferRange | undefined;
  for (const window of windows) {
    const windowEnd = Math.min(window.start + window.length, fileSize);
    const contiguous = current && current.start + current.length === window.start;
    if (!current || !contiguous || current.dataBytes >= targetBytes) {
      current = { start: window.start, length: 0, dataBytes: 0 };
      ranges.push(current);
    }
    current.length = windowEnd - current.start;
    current.dataBytes += window.dataBytes;
  }
  return ranges;
}

/**
 * Splits a range's extents into batches of at most `maxBytes` and `maxExtents`, each one
 * remote command pair. A batch is the unit of resume: once the destination has written
 * it, it is never sent again.
 */
export function batchExtents(extents: readonly Extent[], maxBytes: number, maxExtents: number): Extent[][] {
  const batches: Extent[][] = [];
  let batch: Extent[] = [];
  let batchBytes = 0;
  for (const extent of extents) {
    let start = extent.start;
    let remaining = extent.length;
    while (remaining > 0) {
      if (batchBytes >= maxBytes || batch.length >= maxExtents) {
        batches.push(batch);
        batch = [];
        batchBytes = 0;
      }
      const piece = Math.min(remaining, maxBytes - batchBytes);
      batch.push({ start, length: piece });
      batchBytes += piece;
      start += piece;
      remaining -= piece;
    }
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** The part of `extents` at or after `offset`: what is left to send after a resume. */
export function extentsFrom(extents: readonly Extent[], offset: number): Extent[] {
  const rest: Extent[] = [];
  for (const extent of extents) {
    const end = extent.start + extent.length;
    if (end <= offset) continue;
    const start = Math.max(extent.start, offset);
    rest.push({ start, length: end - start });
  }
  return rest;
}
