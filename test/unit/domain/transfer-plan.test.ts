import { describe, expect, it } from 'vitest';
import {
  batchExtents,
  extentsFrom,
  GiB,
  MiB,
  planTransferRanges,
  summarizeExtents,
  targetRangeBytes,
  totalLength,
  type DataWindow,
  type Extent,
} from '../../../src/domain/transfer-plan';

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function seeded(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

/**
 * Sorted, non-overlapping extents with gaps (sometimes zero) between them, plus a file size at or past the last one.
 */
function randomExtents(random: (below: number) => number): { extents: Extent[]; fileSize: number } {
  const extents: Extent[] = [];
  let position = random(50);
  const count = random(30);
  for (let index = 0; index < count; index += 1) {
    const length = 1 + random(300);
    extents.push({ start: position, length });
    position += length + (random(3) === 0 ? 0 : random(400));
  }
  return { extents, fileSize: position + random(100) };
}

/** The bytes an extent list covers, for comparing lists that cut the same bytes differently. */
function coveredBytes(extents: readonly Extent[]): number[] {
  return extents.flatMap((extent) => Array.from({ length: extent.length }, (_, offset) => extent.start + offset));
}

/** Runs a property check for seeds 1..count; a failure names its seed. */
function forSeeds(count: number, check: (random: (below: number) => number) => void): void {
  for (let seed = 1; seed <= count; seed += 1) {
    try {
      check(seeded(seed));
    } catch (error) {
      if (error instanceof Error) error.message = `seed ${seed}: ${error.message}`;
      throw error;
    }
  }
}

describe('totalLength', () => {
  it('sums extent lengths', () => {
    expect(totalLength([])).toBe(0);
    expect(
      totalLength([
        { start: 100, length: 5 },
        { start: 0, length: 7 },
      ]),
    ).toBe(12);
  });
});

describe('summarizeExtents', () => {
  it('splits extents into aligned windows and counts the data in each', () => {
    const windows = summarizeExtents(
      [
        { start: 10, length: 100 },
        { start: 300, length: 10 },
        { start: 250, length: 10 },
      ],
      64,
    );
    expect(windows).toEqual([
      { start: 0, length: 64, dataBytes: 54 },
      { start: 64, length: 64, dataBytes: 46 },
      { start: 192, length: 64, dataBytes: 6 },
      { start: 256, length: 64, dataBytes: 14 },
    ]);
  });

  it('returns no windows for no data', () => {
    expect(summarizeExtents([], MiB)).toEqual([]);
  });

  it('counts exactly the data bytes of each window, for random extents', () =>
    forSeeds(200, (random) => {
      const { extents } = randomExtents(random);
      const windowSize = 1 + random(128);
      const windows = summarizeExtents(extents, windowSize);

      const expected = new Map<number, number>();
      for (const byte of coveredBytes(extents)) {
        const start = Math.floor(byte / windowSize) * windowSize;
        expected.set(start, (expected.get(start) ?? 0) + 1);
      }
      expect(windows.map((window) => [window.start, window.dataBytes])).toEqual(
        [...expected.entries()].sort((a, b) => a[0] - b[0]),
      );
      expect(
        windows.every(
          (window) => window.length === windowSize && window.start % windowSize === 0 && window.dataBytes <= windowSize,
        ),
      ).toBe(true);
      expect(windows.reduce((sum, window) => sum + window.dataBytes, 0)).toBe(totalLength(extents));
    }));
});

describe('targetRangeBytes', () => {
  it('aims at four ranges per parallel stream', () => {
    expect(targetRangeBytes(20 * GiB, 4)).toBe(1.25 * GiB);
    expect(targetRangeBytes(16 * GiB + 1, 4)).toBe(GiB + 1);
  });

  it('stays between 256 MiB and 4 GiB', () => {
    expect(targetRangeBytes(0, 4)).toBe(256 * MiB);
    expect(targetRangeBytes(100 * MiB, 1)).toBe(256 * MiB);
    expect(targetRangeBytes(1024 * GiB, 4)).toBe(4 * GiB);
    expect(targetRangeBytes(1024 * GiB, 64)).toBe(4 * GiB);
  });
});

describe('planTransferRanges', () => {
  const window = (start: number, dataBytes: number, length = 100): DataWindow => ({ start, length, dataBytes });

  it('groups contiguous windows until a range holds the target data', () => {
    const windows = [window(0, 60), window(100, 60), window(200, 10), window(300, 10)];
    expect(planTransferRanges(windows, 1000, 100)).toEqual([
      { start: 0, length: 200, dataBytes: 120 },
      { start: 200, length: 200, dataBytes: 20 },
    ]);
  });

  it('starts a new range after a window without data', () => {
    const windows = [window(0, 5), window(200, 5)];
    expect(planTransferRanges(windows, 1000, 1000)).toEqual([
      { start: 0, length: 100, dataBytes: 5 },
      { start: 200, length: 100, dataBytes: 5 },
    ]);
  });

  it('cuts the last window at the end of the file', () => {
    expect(planTransferRanges([window(0, 100), window(100, 30)], 130, 1000)).toEqual([
      { start: 0, length: 130, dataBytes: 130 },
    ]);
  });

  it('plans nothing for a file without data', () => {
    expect(planTransferRanges([], 10 * GiB, 256 * MiB)).toEqual([]);
  });

  it('covers every window once, within the file, keeping all data, for random extents', () =>
    forSeeds(200, (random) => {
      const { extents, fileSize } = randomExtents(random);
      const windowSize = 1 + random(128);
      const targetBytes = 1 + random(600);
      const windows = summarizeExtents(extents, windowSize);
      const ranges = planTransferRanges(windows, fileSize, targetBytes);

      for (const [index, range] of ranges.entries()) {
        expect(range.length).toBeGreaterThan(0);
        expect(range.start + range.length).toBeLessThanOrEqual(fileSize);
        if (index > 0) expect(range.start).toBeGreaterThanOrEqual(ranges[index - 1]!.start + ranges[index - 1]!.length);
      }
      for (const each of windows) {
        const holders = ranges.filter(
          (range) =>
            range.start <= each.start && Math.min(each.start + each.length, fileSize) <= range.start + range.length,
        );
        expect(holders).toHaveLength(1);
      }
      // Every data byte lies inside some range.
      const inRange = (byte: number) =>
        ranges.some((range) => range.start <= byte && byte < range.start + range.length);
      expect(coveredBytes(extents).every(inRange)).toBe(true);
      expect(ranges.reduce((sum, range) => sum + range.dataBytes, 0)).toBe(totalLength(extents));
      // A range only grows while it is below the target, so it overshoots by less than one window.
      expect(ranges.every((range) => range.dataBytes < targetBytes + windowSize)).toBe(true);
    }));
});

describe('batchExtents', () => {
  it('splits an extent that is larger than a batch', () => {
    expect(batchExtents([{ start: 0, length: 10 }], 4, 100)).toEqual([
      [{ start: 0, length: 4 }],
      [{ start: 4, length: 4 }],
      [{ start: 8, length: 2 }],
    ]);
  });

  it('closes a batch at maxExtents even when bytes are left', () => {
    const extents = [0, 10, 20, 30, 40].map((start) => ({ start, length: 1 }));
    expect(batchExtents(extents, 1000, 2)).toEqual([
      [
        { start: 0, length: 1 },
        { start: 10, length: 1 },
      ],
      [
        { start: 20, length: 1 },
        { start: 30, length: 1 },
      ],
      [{ start: 40, length: 1 }],
    ]);
  });

  it('fills the rest of a batch with the head of the next extent', () => {
    expect(
      batchExtents(
        [
          { start: 0, length: 3 },
          { start: 10, length: 3 },
        ],
        4,
        10,
      ),
    ).toEqual([
      [
        { start: 0, length: 3 },
        { start: 10, length: 1 },
      ],
      [{ start: 11, length: 2 }],
    ]);
  });

  it('makes no batches for no data and skips empty extents', () => {
    expect(batchExtents([], 4, 4)).toEqual([]);
    expect(batchExtents([{ start: 5, length: 0 }], 4, 4)).toEqual([]);
  });

  it('sends the same bytes in order within both limits, for random extents', () =>
    forSeeds(200, (random) => {
      const { extents } = randomExtents(random);
      const maxBytes = 1 + random(500);
      const maxExtents = 1 + random(6);
      const batches = batchExtents(extents, maxBytes, maxExtents);

      expect(coveredBytes(batches.flat())).toEqual(coveredBytes(extents));
      for (const [index, batch] of batches.entries()) {
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(maxExtents);
        expect(totalLength(batch)).toBeLessThanOrEqual(maxBytes);
        expect(batch.every((extent) => extent.length > 0)).toBe(true);
        // Greedy: only the last batch may be closed before a limit is reached.
        if (index < batches.length - 1)
          expect(totalLength(batch) === maxBytes || batch.length === maxExtents).toBe(true);
      }
    }));
});

describe('extentsFrom', () => {
  const extents = [
    { start: 0, length: 10 },
    { start: 20, length: 10 },
    { start: 40, length: 10 },
  ];

  it('drops what ends before the offset and trims the extent it falls in', () => {
    expect(extentsFrom(extents, 0)).toEqual(extents);
    expect(extentsFrom(extents, 25)).toEqual([
      { start: 25, length: 5 },
      { start: 40, length: 10 },
    ]);
    expect(extentsFrom(extents, 30)).toEqual([{ start: 40, length: 10 }]);
    expect(extentsFrom(extents, 35)).toEqual([{ start: 40, length: 10 }]);
    expect(extentsFrom(extents, 50)).toEqual([]);
  });

  it('keeps exactly the bytes at or after the offset, for random extents', () =>
    forSeeds(100, (random) => {
      const { extents: randomOnes, fileSize } = randomExtents(random);
      const offset = random(fileSize + 1);
      expect(coveredBytes(extentsFrom(randomOnes, offset))).toEqual(
        coveredBytes(randomOnes).filter((byte) => byte >= offset),
      );
    }));
});
