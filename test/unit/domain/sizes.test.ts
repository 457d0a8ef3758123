import { describe, expect, it } from 'vitest';
import { formatBytes, parseSize } from '../../../src/domain/sizes';

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['4096', 4096],
    ['10B', 10],
    ['512k', 512 * 1024],
    ['512K', 512 * 1024],
    ['100M', 100 * 1024 ** 2],
    ['100MB', 100 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['1.5 gib', 1.5 * 1024 ** 3],
    ['  2T  ', 2 * 1024 ** 4],
    ['0.5K', 512],
  ])('parses %j as %i bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it('rounds fractional bytes to whole bytes', () => {
    expect(parseSize('1.1K')).toBe(1126);
    expect(Number.isInteger(parseSize('0.3M'))).toBe(true);
  });

  it.each(['', ' ', 'M', 'abc', '-1M', '+1M', '1..5G', '.5G', '1e3', '10 PB', '10X', '1,5G', '1G2', '0x10'])(
    'rejects %j',
    (text) => {
      expect(parseSize(text)).toBeUndefined();
    },
  );

  it('rejects sizes beyond what a JavaScript number holds exactly', () => {
    expect(parseSize('9999999T')).toBeUndefined();
    expect(parseSize(`${Number.MAX_SAFE_INTEGER}`)).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [100 * 1024 ** 2, '100 MiB'],
    [1.25 * 1024 ** 3, '1.3 GiB'],
    [3 * 1024 ** 4, '3.0 TiB'],
    [2048 * 1024 ** 4, '2048 TiB'],
    [-2048, '-2.0 KiB'],
  ])('formats %i as %j', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('is readable back by parseSize to within the shown precision', () => {
    const bytes = 1536 * 1024;
    const [number, unit] = formatBytes(bytes).split(' ');
    expect(parseSize(`${number}${unit}`)).toBe(bytes);
  });
});
