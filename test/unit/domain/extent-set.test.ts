import { describe, expect, it } from 'vitest';
import { alignExtents, boundExtents, clipExtents, mergeExtents, subtractExtents } from '../../../src/domain/extent-set';

const e = (start: number, length: number) => ({ start, length });

describe('extent sets', () => {
  it('merges overlapping and touching extents, in order, dropping empty ones', () => {
    expect(mergeExtents([e(50, 10), e(0, 10), e(10, 5), e(52, 20), e(90, 0)])).toEqual([e(0, 15), e(50, 22)]);
  });

  it('widens extents to whole blocks, clipped to the limit', () => {
    expect(alignExtents([e(5, 2), e(70, 10)], 64, 100)).toEqual([e(0, 100)]);
    expect(alignExtents([e(130, 1)], 64, 150)).toEqual([e(128, 22)]);
  });

  it('clips to a window', () => {
    expect(clipExtents([e(0, 10), e(20, 10), e(40, 10)], e(5, 20))).toEqual([e(5, 5), e(20, 5)]);
  });

  it('subtracts', () => {
    expect(subtractExtents([e(0, 100)], [e(10, 10), e(50, 60)])).toEqual([e(0, 10), e(20, 30)]);
    expect(subtractExtents([e(0, 10), e(20, 10)], [])).toEqual([e(0, 10), e(20, 10)]);
    expect(subtractExtents([e(0, 10)], [e(0, 10)])).toEqual([]);
  });

  it('bounds a list by closing the smallest gaps, covering everything it covered', () => {
    const extents = [e(0, 1), e(3, 1), e(100, 1), e(102, 1), e(1000, 1)];
    const bounded = boundExtents(extents, 3);
    expect(bounded).toEqual([e(0, 4), e(100, 3), e(1000, 1)]);
    expect(boundExtents(extents, 1)).toEqual([e(0, 1001)]);
    expect(boundExtents(extents, 10)).toEqual(extents);
    // Equal gaps: only as many are closed as needed.
    expect(boundExtents([e(0, 1), e(2, 1), e(4, 1), e(6, 1)], 3)).toHaveLength(3);
  });
});
