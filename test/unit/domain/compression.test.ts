import { describe, expect, it } from 'vitest';
import { chooseCompression } from '../../../src/domain/compression';

const both = { zstd: true, lz4: true };
const onlyLz4 = { zstd: false, lz4: true };
const neither = { zstd: false, lz4: false };

describe('chooseCompression', () => {
  it('prefers zstd when both hosts have it', () => {
    expect(chooseCompression(true, both, both)).toEqual({ codec: 'zstd' });
  });

  it('falls back to lz4 when zstd is missing on one end', () => {
    expect(chooseCompression(true, both, onlyLz4)).toEqual({ codec: 'lz4' });
    expect(chooseCompression(true, onlyLz4, both)).toEqual({ codec: 'lz4' });
  });

  it('copies uncompressed with a warning naming what is missing where', () => {
    const choice = chooseCompression(true, { zstd: true, lz4: false }, onlyLz4);
    expect(choice.codec).toBe('none');
    expect(choice.warning).toBe('compression is off: zstd is missing on the destination; lz4 is missing on the source');
    expect(chooseCompression(true, neither, neither).warning).toBe(
      'compression is off: zstd is missing on the source and destination; lz4 is missing on the source and destination',
    );
  });

  it('uses no compression and warns about nothing when compression was not asked for', () => {
    expect(chooseCompression(false, both, both)).toEqual({ codec: 'none' });
    expect(chooseCompression(false, neither, neither)).toEqual({ codec: 'none' });
  });
});
