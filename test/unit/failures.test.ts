import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ErrorCode, KvmCloneError, type ErrorCodeValue } from '../../src/errors';
import { failureFromInfo, failureInfo, toApplicationFailure } from '../../src/failures';

function activityFailure(cause: Error): ActivityFailure {
  return new ActivityFailure(
    'Activity task failed',
    'transferRange',
    '7',
    RetryState.NON_RETRYABLE_FAILURE,
    'worker@kvm',
    cause,
  );
}

function applicationFailure(code: ErrorCodeValue, message: string, cause?: Error): ApplicationFailure {
  return ApplicationFailure.create({ type: 'X', message, details: [{ code }], cause });
}

describe('toApplicationFailure', () => {
  it('uses the code name as type and the code as first detail', () => {
    const error = new KvmCloneError(ErrorCode.VM_NOT_FOUND_ERROR, "VM 'web' not found", { vmName: 'web' });
    const failure = toApplicationFailure(error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe('VM_NOT_FOUND_ERROR');
    expect(failure.message).toBe("VM 'web' not found");
    expect(failure.details).toEqual([{ code: 1003, vmName: 'web' }]);
    expect(failure.cause).toBe(error);
  });

  it.each([
    [ErrorCode.VM_NOT_FOUND_ERROR, true],
    [ErrorCode.VM_EXISTS_ERROR, true],
    [ErrorCode.HOST_KEY_ERROR, true],
    [ErrorCode.INVALID_PORT, true],
    [ErrorCode.CONNECTION_ERROR, false],
    [ErrorCode.TRANSFER_ERROR, false],
  ])('marks code %i nonRetryable=%s', (code, nonRetryable) => {
    expect(toApplicationFailure(new KvmCloneError(code, 'x')).nonRetryable).toBe(nonRetryable);
  });

  it('passes an ApplicationFailure through unchanged', () => {
    const failure = ApplicationFailure.nonRetryable('already a failure', 'CUSTOM');
    expect(toApplicationFailure(failure)).toBe(failure);
  });

  it('turns other errors and thrown values into retryable GENERAL_ERRORs', () => {
    const plain = new Error('boom');
    const fromError = toApplicationFailure(plain);
    expect(fromError).toMatchObject({ type: 'GENERAL_ERROR', message: 'boom', details: [{ code: 1000 }] });
    expect(fromError.nonRetryable).toBeFalsy();
    expect(fromError.cause).toBe(plain);
    expect(toApplicationFailure('just a string')).toMatchObject({
      type: 'GENERAL_ERROR',
      message: 'just a string',
      details: [{ code: 1000 }],
    });
  });
});

describe('failureInfo', () => {
  it('reads a KvmCloneError directly', () => {
    expect(failureInfo(new KvmCloneError(ErrorCode.INVALID_PORT, 'bad port'))).toEqual({
      code: 1303,
      codeName: 'INVALID_PORT',
      message: 'bad port',
    });
  });

  it('reads the code of an ApplicationFailure', () => {
    expect(failureInfo(applicationFailure(ErrorCode.VM_EXISTS_ERROR, "VM 'web2' exists"))).toEqual({
      code: 1004,
      codeName: 'VM_EXISTS_ERROR',
      message: "VM 'web2' exists",
    });
  });

  it('digs the innermost code out of ApplicationFailure → ActivityFailure → ApplicationFailure', () => {
    const inner = applicationFailure(ErrorCode.HOST_KEY_ERROR, 'kvm2: host key changed');
    const outer = applicationFailure(ErrorCode.CLONE_ERROR, 'clone failed', activityFailure(inner));
    expect(failureInfo(outer)).toEqual({ code: 1103, codeName: 'HOST_KEY_ERROR', message: 'kvm2: host key changed' });
  });

  it('finds the code below plain errors with causes', () => {
    const inner = applicationFailure(ErrorCode.TRANSFER_ERROR, 'digest mismatch');
    const wrapped = new Error('workflow failed', { cause: activityFailure(inner) });
    expect(failureInfo(wrapped)).toMatchObject({ code: 1006, message: 'digest mismatch' });
    expect(
      failureInfo(new Error('outer', { cause: new KvmCloneError(ErrorCode.DISK_SPACE_ERROR, 'full') })),
    ).toMatchObject({ code: 1204, message: 'full' });
  });

  it('keeps the deepest coded failure when the innermost cause has no code', () => {
    const coded = applicationFailure(ErrorCode.CONNECTION_ERROR, 'kvm1 unreachable', new Error('ECONNREFUSED'));
    expect(failureInfo(activityFailure(coded))).toMatchObject({ code: 1002, message: 'kvm1 unreachable' });
  });

  it('reads a failure made by toApplicationFailure back to the same code', () => {
    const failure = toApplicationFailure(new KvmCloneError(ErrorCode.VM_NOT_FOUND_ERROR, 'gone'));
    expect(failureInfo(activityFailure(failure))).toEqual({
      code: 1003,
      codeName: 'VM_NOT_FOUND_ERROR',
      message: 'gone',
    });
  });

  it('falls back to GENERAL_ERROR with the outer message when nothing has a code', () => {
    expect(failureInfo(activityFailure(new Error('inner')))).toEqual({
      code: 1000,
      codeName: 'GENERAL_ERROR',
      message: 'Activity task failed',
    });
    expect(failureInfo(ApplicationFailure.create({ message: 'no details' }))).toMatchObject({
      code: 1000,
      message: 'no details',
    });
    expect(failureInfo(42)).toEqual({ code: 1000, codeName: 'GENERAL_ERROR', message: '42' });
  });
});

describe('failureFromInfo', () => {
  it('builds a failure that failureInfo reads back, retryable by code', () => {
    const info = { code: ErrorCode.VM_EXISTS_ERROR, codeName: 'VM_EXISTS_ERROR', message: 'exists' };
    const failure = failureFromInfo(info);
    expect(failure.type).toBe('VM_EXISTS_ERROR');
    expect(failure.nonRetryable).toBe(true);
    expect(failureInfo(failure)).toEqual(info);
    expect(
      failureFromInfo({ code: ErrorCode.TRANSFER_ERROR, codeName: 'TRANSFER_ERROR', message: 'x' }).nonRetryable,
    ).toBe(false);
  });
});
