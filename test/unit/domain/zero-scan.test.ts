import { describe, expect, it } from 'vitest';
import { parseZeroScan } from '../../../src/domain/zero-scan';
import { ErrorCode } from '../../../src/errors';

const MiB = 1024 * 1024;
const range = { start: 64 * MiB, length: 64 * MiB };
const end = `end ${128 * MiB}`;

function refused(output: string, message: RegExp) {
  expect(() => parseZeroScan(output, '/dev/vg0/data', range)).toThrow(
    expect.objectContaining({ code: ErrorCode.TRANSFER_ERROR, message: expect.stringMatching(message) }),
  );
}

describe('parseZeroScan', () => {
  it('reads the data extents of a scan, touching ones merged', () => {
    const output = [`${64 * MiB} 65536`, `${64 * MiB + 65536} 65536`, `${100 * MiB} ${MiB}`, end, ''].join('\n');
    expect(parseZeroScan(output, '/dev/vg0/data', range)).toEqual([
      { start: 64 * MiB, length: 131072 },
      { start: 100 * MiB, length: MiB },
    ]);
  });

  it('reads an all-zero range as no extents', () => {
    expect(parseZeroScan(`${end}\n`, '/dev/vg0/data', range)).toEqual([]);
  });

  it('refuses a scan that did not finish or stopped short of the range (a device that shrank)', () => {
    refused('', /did not finish/);
    refused(`${64 * MiB} 65536\n`, /did not finish/);
    refused(`end ${100 * MiB}\n`, /stopped at byte 104857600.*did the device shrink/);
  });

  it('attack: refuses lines that are not extents, and extents out of order, empty or outside the range', () => {
    refused(`${64 * MiB} 65536 extra\n${end}`, /not an extent/);
    refused(`-1 65536\n${end}`, /not an extent/);
    refused(`1e9 5\n${end}`, /not an extent/);
    refused(`${100 * MiB} 65536\n${64 * MiB} 65536\n${end}`, /out of order/);
    refused(`${64 * MiB} 131072\n${64 * MiB + 65536} 65536\n${end}`, /out of order/);
    refused(`${64 * MiB} 0\n${end}`, /empty/);
    refused(`0 65536\n${end}`, /outside/);
    refused(`${128 * MiB - 65536} 131072\n${end}`, /outside/);
    refused(`9999999999999999 1\n${end}`, /not a byte offset/);
    refused(`99999999999999999 1\n${end}`, /not an extent/);
  });
});
