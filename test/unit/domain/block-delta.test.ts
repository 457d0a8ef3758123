import { describe, expect, it } from 'vitest';
import {
  blockDelta,
  chooseBlockHashTool,
  SYNC_BLOCK_SIZE,
  syncTileBytes,
  tileFile,
} from '../../../src/domain/block-delta';

const KiB = 1024;

describe('blockDelta', () => {
  it('walks several extents block by block, each starting a new block', () => {
    const extents = [
      { start: 0, length: 64 * KiB },
      { start: 10 * 64 * KiB, length: 128 * KiB },
    ];
    expect(blockDelta(['a', 'b', '0'], ['a', 'c', 'd'], extents, 64 * KiB)).toEqual({
      copy: [{ start: 10 * 64 * KiB, length: 64 * KiB }],
      punch: [{ start: 11 * 64 * KiB, length: 64 * KiB }],
      blocksChanged: 2,
      bytesUnchanged: 64 * KiB,
    });
  });

  it('sends differing data blocks, merged when adjacent, and punches blocks that are zero on the source', () => {
    const range = { start: 1000 * KiB, length: 6 * 64 * KiB };
    const source = ['aa', 'bb', 'cc', '0', '0', 'ff'];
    const target = ['aa', 'b2', 'c2', 'dd', '0', 'f2'];
    expect(blockDelta(source, target, [range], 64 * KiB)).toEqual({
      copy: [
        { start: range.start + 64 * KiB, length: 128 * KiB },
        { start: range.start + 320 * KiB, length: 64 * KiB },
      ],
      punch: [{ start: range.start + 192 * KiB, length: 64 * KiB }],
      blocksChanged: 4,
      bytesUnchanged: 128 * KiB,
    });
  });

  it('counts a short last block by its real length', () => {
    const delta = blockDelta(['x', 'y'], ['x', 'z'], [{ start: 0, length: 64 * KiB + 10 }], 64 * KiB);
    expect(delta.copy).toEqual([{ start: 64 * KiB, length: 10 }]);
    expect(delta.bytesUnchanged).toBe(64 * KiB);
  });

  it('refuses hash lists that do not cover the range, rather than skipping blocks', () => {
    expect(() => blockDelta(['a'], ['a', 'b'], [{ start: 0, length: 128 * KiB }], 64 * KiB)).toThrow(
      /expected 2 block hashes/,
    );
  });

  it('finds nothing to do for identical hashes', () => {
    expect(blockDelta(['a', '0'], ['a', '0'], [{ start: 0, length: 128 * KiB }], 64 * KiB)).toEqual({
      copy: [],
      punch: [],
      blocksChanged: 0,
      bytesUnchanged: 128 * KiB,
    });
  });
});

describe('chooseBlockHashTool', () => {
  it('prefers python3 on both hosts, then perl on both, else none', () => {
    expect(chooseBlockHashTool({ python3: true, perl: true }, { python3: true, perl: false })).toBe('python3');
    expect(chooseBlockHashTool({ python3: true, perl: true }, { python3: false, perl: true })).toBe('perl');
    expect(chooseBlockHashTool({ python3: true, perl: false }, { python3: false, perl: true })).toBe('none');
  });
});

describe('tileFile', () => {
  it('covers the whole file, holes included, with a short last tile', () => {
    expect(tileFile(250, 100)).toEqual([
      { start: 0, length: 100 },
      { start: 100, length: 100 },
      { start: 200, length: 50 },
    ]);
    expect(tileFile(0, 100)).toEqual([]);
  });
});

describe('syncTileBytes', () => {
  it('rounds tiles to whole blocks, so blocks stay aligned to the file', () => {
    const tile = syncTileBytes(4 * 1024 ** 3 + 32 * 1024 ** 2, 4);
    expect(tile % SYNC_BLOCK_SIZE).toBe(0);
    expect(tile).toBeGreaterThanOrEqual(268_492_800);
    expect(syncTileBytes(1024, 4) % SYNC_BLOCK_SIZE).toBe(0);
  });
});
