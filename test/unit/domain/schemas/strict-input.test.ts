import { describe, expect, it } from 'vitest';
import { cloneInputSchema } from '../../../../src/domain/schemas/clone-input';
import { syncInputSchema } from '../../../../src/domain/schemas/sync-input';
import { validate } from '../../../../src/domain/schemas/validate';
import { ErrorCode, KvmCloneError } from '../../../../src/errors';

const minimal = { source: 'kvm1', destination: 'kvm2', vmName: 'web' };

function rejection(run: () => unknown): KvmCloneError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KvmCloneError);
    return error as KvmCloneError;
  }
  throw new Error('expected a rejection');
}

describe('workflow inputs are strict', () => {
  it("attack: a 'dryrun: true' typo is refused with 1007 naming the key, instead of running a real clone", () => {
    const error = rejection(() => validate(cloneInputSchema, { ...minimal, dryrun: true }, 'clone input'));
    expect(error.code).toBe(ErrorCode.VALIDATION_ERROR);
    expect(error.message).toBe("invalid clone input: unrecognized key 'dryrun' (did you mean 'dryRun'?)");
    expect(error.details).toMatchObject({ field: 'dryrun', unrecognizedKeys: ['dryrun'] });
    expect(error.retryable).toBe(false);
  });

  it('attack: an unknown key in a sync input is refused, not dropped', () => {
    const error = rejection(() => validate(syncInputSchema, { ...minimal, delta_only: false }, 'sync input'));
    expect(error.code).toBe(ErrorCode.VALIDATION_ERROR);
    expect(error.message).toBe("invalid sync input: unrecognized key 'delta_only' (did you mean 'deltaOnly'?)");
  });

  it('names every unknown key, without a guess when nothing is close', () => {
    const error = rejection(() => validate(cloneInputSchema, { ...minimal, foo: 1, Force: true }, 'clone input'));
    expect(error.message).toBe("invalid clone input: unrecognized keys 'foo', 'Force' (did you mean 'force'?)");
    expect(error.details.unrecognizedKeys).toEqual(['foo', 'Force']);
  });

  it('still accepts every known key', () => {
    const input = {
      ...minimal,
      newName: 'web2',
      destDir: '/srv/vms',
      force: true,
      dryRun: true,
      parallel: 2,
      compress: true,
      verify: false,
      bandwidthLimit: '10M',
      preserveMac: true,
      timeout: 60,
      start: true,
      networkMap: { default: 'br0' },
      copyCdroms: true,
      excludeDisks: ['vdb'],
      flattenBackingChain: true,
    };
    expect(cloneInputSchema.safeParse(input).success).toBe(true);
    const sync = {
      ...minimal,
      targetName: 'web2',
      deltaOnly: false,
      checkpoint: true,
      fullVerify: true,
      parallel: 2,
      compress: true,
      verify: true,
      preserveMac: false,
      timeout: 60,
    };
    expect(syncInputSchema.safeParse(sync).success).toBe(true);
  });
});
