import { describe, expect, it } from 'vitest';
import { addFailureHint, failureText } from '../../../src/cli/output';
import { ErrorCode, KvmCloneError } from '../../../src/errors';

describe('failureText', () => {
  const error = new KvmCloneError(ErrorCode.VM_NOT_FOUND_ERROR, "VM 'web' does not exist");

  it('is the one error line while nothing asked for a hint', () => {
    expect(failureText(error)).toBe("kvm-clone: error 1003 (VM_NOT_FOUND_ERROR): VM 'web' does not exist\n");
  });

  it('adds each hint once, after the error line', () => {
    addFailureHint("see /state/worker.log for the worker's log");
    addFailureHint("see /state/worker.log for the worker's log");
    expect(failureText(error).split('\n')).toEqual([
      "kvm-clone: error 1003 (VM_NOT_FOUND_ERROR): VM 'web' does not exist",
      "kvm-clone: see /state/worker.log for the worker's log",
      '',
    ]);
  });
});
