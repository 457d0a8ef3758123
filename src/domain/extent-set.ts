import type { Extent } from './transfer-plan';

/** Sorted, merged extents: overlapping and touching ones become one. */
export function mergeExtents(extents: readonly Extent[]): Extent[] {
  const sorted = extents.filter((extent) => extent.length > 0).sort((a, b) => a.start - b.start);
  const merged: Extent[] = [];
  for (const extent of sorted) {
    const last = merged[merged.length - 1];
    const end = extent.start + extent.length;
    if (last && extent.start <= last.start + last.length) last.length = Math.max(last.length, end - last.start);
    else merged.push({ start: extent.start, length: extent.length });
  }
  return merged;
}

/** Each extent widened to whole blocks, clipped to `limit`, then merged. */
export function alignExtents(extents: readonly Extent[], blockSize: number, limit: number): Extent[] {
  return mergeExtents(
    extents.map((extent) => {
      const start = Math.floor(extent.start / blockSize) * blockSize;
      const end = Math.min(limit, Math.ceil((extent.start + extent.length) / blockSize) * blockSize);
      return { start, length: Math.max(0, end - start) };
    }),
  );
}

/** The parts of `extents` inside `window`. */
export function clipExtents(extents: readonly Extent[], window: Extent): Extent[] {
  const windowEnd = window.start + window.length;
  const clipped: Extent[] = [];
  for (const extent of extents) {
    const start = Math.max(extent.start, window.start);
    const end = Math.min(extent.start + extent.length, windowEnd);
    if (end > start) clipped.push({ start, length: end - start });
  }
  return clipped;
}

/** What `extents` covers and `removed` does not. Both are merged first. */
export function subtractExtents(extents: readonly Extent[], removed: readonly Extent[]): Extent[] {
  const cuts = mergeExtents(removed);
  const result: Extent[] = [];
  for (const extent of mergeExtents(extents)) {
    let position = extent.start;
    const end = extent.start + extent.length;
    for (const cut of cuts) {
      const cutEnd = cut.start + cut.length;
      if (cutEnd <= position) continue;
      if (cut.start >= end) break;
      if (cut.start > position) result.push({ start: position, length: cut.start - position });
      position = Math.max(position, cutEnd);
    }
    if (position < end) result.push({ start: position, length: end - position });
  }
  return result;
}

/**
 * At most `maxCount` extents covering everything in `extents`: the smallest gaps are
 * closed first. A superset is always safe to compare or copy; an unbounded list is not
 * safe to put in workflow history.
 */
export function boundExtents(extents: readonly Extent[], maxCount: number): Extent[] {
  const merged = mergeExtents(extents);
  if (merged.length <= maxCount) return merged;
  const gaps = merged.slice(1).map((extent, index) => extent.start - (merged[index]!.start + merged[index]!.length));
  const threshold = [...gaps].sort((a, b) => a - b)[merged.length - maxCount - 1]!;
  // Close every gap up to the threshold, and at most as many of the gaps equal to it as needed.
  let equalToClose = merged.length - maxCount - gaps.filter((gap) => gap < threshold).length;
  const bounded: Extent[] = [{ ...merged[0]! }];
  gaps.forEach((gap, index) => {
    const next = merged[index + 1]!;
    const last = bounded[bounded.length - 1]!;
    const close = gap < threshold || (gap === threshold && equalToClose-- > 0);
    if (close) last.length = next.start + next.length - last.start;
    else bounded.push({ ...next });
  });
  return bounded;
}
