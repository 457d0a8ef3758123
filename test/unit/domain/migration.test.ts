import { describe, expect, it } from 'vitest';
import { estimatedDowntime, nextStep, type MigrationPass } from '../../../src/domain/migration';

const MB = 1_000_000;

function pass(kind: MigrationPass['kind'], bytesTransferred: number, seconds: number): MigrationPass {
  return { kind, operationId: `op-${kind}`, bytesTransferred, seconds };
}

const limits = { maxDowntime: 10, maxPasses: 4, cutoverRequested: false };

describe('estimatedDowntime', () => {
  it("is the last sync's duration; the clone and the final pass do not count", () => {
    expect(estimatedDowntime([pass('clone', 4000 * MB, 60)])).toBeUndefined();
    expect(estimatedDowntime([pass('clone', 4000 * MB, 60), pass('sync', 40 * MB, 14), pass('sync', 8 * MB, 6)])).toBe(
      6,
    );
    expect(estimatedDowntime([pass('sync', 40 * MB, 14), pass('final', 1 * MB, 3)])).toBe(14);
  });
});

describe('nextStep', () => {
  it('syncs at least once after the clone', () => {
    expect(nextStep([pass('clone', 4000 * MB, 2)], limits)).toEqual({ step: 'sync' });
  });

  it('cuts over once the last sync took no longer than the downtime allowed', () => {
    expect(nextStep([pass('sync', 40 * MB, 14), pass('sync', 8 * MB, 10)], limits)).toEqual({
      step: 'cutover',
      reason: 'converged',
    });
  });

  it('syncs again while each pass sends less than the one before', () => {
    expect(nextStep([pass('sync', 40 * MB, 30), pass('sync', 20 * MB, 15)], limits)).toEqual({ step: 'sync' });
  });

  it('gives up when a pass sends no less than the one before, above the downtime allowed', () => {
    const next = nextStep([pass('sync', 40 * MB, 30), pass('sync', 40 * MB, 30)], limits);
    expect(next.step).toBe('give-up');
    expect(next.step === 'give-up' && next.reason).toMatch(
      /stopped converging .*40000000, 40000000.*30\.0 s, more than the 10 s/,
    );
  });

  it('gives up after maxPasses syncs that still converge', () => {
    const syncs = [
      pass('sync', 80 * MB, 60),
      pass('sync', 60 * MB, 40),
      pass('sync', 40 * MB, 30),
      pass('sync', 30 * MB, 20),
    ];
    const next = nextStep(syncs, limits);
    expect(next.step).toBe('give-up');
    expect(next.step === 'give-up' && next.reason).toMatch(/^4 sync passes did not converge/);
    expect(nextStep(syncs.slice(0, 3), limits)).toEqual({ step: 'sync' });
  });

  it("cuts over on an operator's request, converged or not", () => {
    expect(nextStep([pass('clone', 4000 * MB, 2)], { ...limits, cutoverRequested: true })).toEqual({
      step: 'cutover',
      reason: 'requested',
    });
    expect(
      nextStep([pass('sync', 40 * MB, 30), pass('sync', 40 * MB, 30)], { ...limits, cutoverRequested: true }).step,
    ).toBe('cutover');
  });
});
