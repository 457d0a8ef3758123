import { describe, expect, it } from 'vitest';
import { KvmCloneSchedules, OVERLAP_POLICIES, parseInterval, parseOverlapPolicy } from '../../../src/client/schedules';
import { ErrorCode } from '../../../src/errors';

describe('schedule options', () => {
  it('reads intervals in seconds, minutes, hours and days', () => {
    expect(parseInterval('90s')).toBe(90_000);
    expect(parseInterval('30m')).toBe(1_800_000);
    expect(parseInterval('6h')).toBe(21_600_000);
    expect(parseInterval('1d')).toBe(86_400_000);
    for (const bad of ['6', '1.5h', '0s', 'h', '6w'])
      expect(() => parseInterval(bad)).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_ERROR }));
  });

  it('takes the overlap policies by their CLI names', () => {
    expect(parseOverlapPolicy('skip')).toBe('skip');
    expect(parseOverlapPolicy('buffer-one')).toBe('buffer-one');
    expect(() => parseOverlapPolicy('SKIP')).toThrow(/not one of skip, buffer-one/);
  });

  it("attack: the 'terminate-other' overlap policy, which would stop a run without its cleanup, is refused with 1007 pointing to cancel-other", () => {
    expect(() => parseOverlapPolicy('terminate-other')).toThrow(
      expect.objectContaining({
        code: ErrorCode.VALIDATION_ERROR,
        message:
          "--overlap: 'terminate-other' stops the previous run without its cleanup (its source left on overlays, partial files left behind); use 'cancel-other', which cleans up",
      }),
    );
    expect(parseOverlapPolicy('cancel-other')).toBe('cancel-other');
    expect(OVERLAP_POLICIES).not.toContain('terminate-other');
  });

  it("refuses 'terminate-other' from a library caller before anything reaches Temporal", async () => {
    const temporal = { schedule: { create: () => Promise.reject(new Error('must not be called')) } };
    const schedules = new KvmCloneSchedules(
      temporal as unknown as ConstructorParameters<typeof KvmCloneSchedules>[0],
      'kvm-clone',
    );
    await expect(
      schedules.create({
        name: 'nightly',
        cron: '0 2 * * *',
        overlap: 'terminate-other',
        action: { kind: 'sync', input: { source: 'a', destination: 'b', vmName: 'web' } },
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_ERROR,
      message: expect.stringContaining(
        "schedule 'nightly': 'terminate-other' stops the previous run without its cleanup",
      ),
    });
  });
});
