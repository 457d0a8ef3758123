import { describe, expect, it } from 'vitest';
import { parseInterval, parseOverlapPolicy } from '../../../src/client/schedules';
import { ErrorCode } from '../../../src/errors';

describe('schedule options', () => {
  it('reads intervals in seconds, minutes, hours and days', () => {
    expect(parseInterval('90s')).toBe(90_000);
    expect(parseInterval('30m')).toBe(1_800_000);
    expect(parseInterval('6h')).toBe(21_600_000);
    expect(parseInterval('1d')).toBe(86_400_000);
    for (const bad of ['6', '1.5h', '0s', 'h', '6w']) expect(() => parseInterval(bad)).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_ERROR }));
  });

  it('takes the overlap policies by their CLI names', () => {
    expect(parseOverlapPolicy('skip')).toBe('skip');
    expect(parseOverlapPolicy('buffer-one')).toBe('buffer-one');
    expect(() => parseOverlapPolicy('SKIP')).toThrow(/not one of skip, buffer-one/);
  });
});
