import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bandwidthLimitSchema } from '../../../../src/domain/schemas/bandwidth';
import { validate } from '../../../../src/domain/schemas/validate';
import { ErrorCode, KvmCloneError } from '../../../../src/errors';

describe('bandwidthLimitSchema', () => {
  it.each([
    ['100M', 100 * 1024 ** 2],
    ['100MB', 100 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['500K', 500 * 1024],
    ['4096', 4096],
    [1_000_000, 1_000_000],
  ])('reads %j as %d bytes per second', (input, bytesPerSecond) => {
    expect(bandwidthLimitSchema.parse(input)).toBe(bytesPerSecond);
  });

  it.each(['10X', 'fast', '', '-5M', '0', '0K', '0.1', 0, -1, 1.5, Number.POSITIVE_INFINITY])('rejects %j', (input) => {
    expect(bandwidthLimitSchema.safeParse(input).success).toBe(false);
  });

  it('says what a valid value looks like', () => {
    const result = bandwidthLimitSchema.safeParse('10X');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      "'10X' is not a bandwidth: write bytes per second as a positive integer, or a size per second such as 500K, 100M, 100MB or 1.5G (K = 1024)",
    );
    expect(bandwidthLimitSchema.safeParse('0').error?.issues[0]?.message).toMatch(
      /^"0" is not a usable bandwidth limit \(it must be more than 0 bytes per second\)/,
    );
  });

  it('becomes code 1305 as a field named bandwidthLimit', () => {
    try {
      validate(z.object({ bandwidthLimit: bandwidthLimitSchema }), { bandwidthLimit: '0' }, 'clone input');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(KvmCloneError);
      expect((error as KvmCloneError).code).toBe(ErrorCode.INVALID_BANDWIDTH);
      expect((error as KvmCloneError).message).toMatch(/^invalid clone input: bandwidthLimit: /);
    }
  });
});
