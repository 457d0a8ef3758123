import { describe, expect, it } from 'vitest';
import { checkedCutoverTime, requireCutoverWithinTimeout } from '../../../src/client/cutover-time';
import { ErrorCode } from '../../../src/errors';

describe('checkedCutoverTime', () => {
  it('takes ISO 8601 times with a zone', () => {
    for (const at of ['2026-12-24T02:00:00Z', '2026-12-24T03:00:00+01:00', '2026-12-24T02:00:00.500Z'])
      expect(checkedCutoverTime(at, '--at')).toBe(at);
  });

  it('refuses a time without a zone, which a worker elsewhere would read differently, with 1007 naming the flag', () => {
    for (const at of ['2026-12-24T02:00:00', '2026-12-24', '02:00', 'now'])
      expect(() => checkedCutoverTime(at, '--at')).toThrow(
        expect.objectContaining({
          code: ErrorCode.VALIDATION_ERROR,
          message: expect.stringMatching(/^--at: '.*' is not an ISO 8601 time with a zone/),
        }),
      );
  });
});

describe('requireCutoverWithinTimeout', () => {
  const now = Date.parse('2026-12-23T00:00:00Z');

  it('lets a cutover before the timeout, or none, through', () => {
    expect(() => requireCutoverWithinTimeout({ timeout: 86400 }, now)).not.toThrow();
    expect(() => requireCutoverWithinTimeout({ cutoverAt: '2026-12-23T23:00:00Z', timeout: 86400 }, now)).not.toThrow();
    expect(() => requireCutoverWithinTimeout({ cutoverAt: '2026-12-22T00:00:00Z', timeout: 60 }, now)).not.toThrow();
  });

  it('refuses a cutover the migration would give up before, with 1304', () => {
    expect(() => requireCutoverWithinTimeout({ cutoverAt: '2026-12-24T02:00:00Z', timeout: 86400 }, now)).toThrow(
      expect.objectContaining({
        code: ErrorCode.INVALID_TIMEOUT,
        message: expect.stringContaining(
          "the cutover at 2026-12-24T02:00:00Z is 93600 s away, after the migration's timeout of 86400 s",
        ),
      }),
    );
  });
});
