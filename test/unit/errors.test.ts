import { describe, expect, it } from 'vitest';
import { ErrorCode, errorCodeName, isRetryableCode, KvmCloneError } from '../../src/errors';

describe('ErrorCode', () => {
  it('keeps the codes of the original tool, each used once', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(ErrorCode.GENERAL_ERROR).toBe(1000);
    expect(ErrorCode.LIBVIRT_ERROR).toBe(1009);
    expect(ErrorCode.HOST_KEY_ERROR).toBe(1103);
    expect(ErrorCode.INVALID_BANDWIDTH).toBe(1305);
  });

  it('names codes, and unknown codes as GENERAL_ERROR', () => {
    expect(errorCodeName(1303)).toBe('INVALID_PORT');
    expect(errorCodeName(1006)).toBe('TRANSFER_ERROR');
    expect(errorCodeName(4242)).toBe('GENERAL_ERROR');
    for (const [name, code] of Object.entries(ErrorCode)) expect(errorCodeName(code)).toBe(name);
  });
});

describe('isRetryableCode', () => {
  it('retries transient failures', () => {
    for (const code of [
      ErrorCode.GENERAL_ERROR,
      ErrorCode.CONNECTION_ERROR,
      ErrorCode.TRANSFER_ERROR,
      ErrorCode.LIBVIRT_ERROR,
      ErrorCode.CLONE_ERROR,
    ]) {
      expect(isRetryableCode(code), errorCodeName(code)).toBe(true);
    }
  });

  it('does not retry what only a change of input or host state can fix', () => {
    for (const code of [
      ErrorCode.VM_NOT_FOUND_ERROR,
      ErrorCode.VM_EXISTS_ERROR,
      ErrorCode.VALIDATION_ERROR,
      ErrorCode.HOST_KEY_ERROR,
      ErrorCode.AUTH_ERROR,
      ErrorCode.DISK_SPACE_ERROR,
      ErrorCode.INVALID_HOST,
      ErrorCode.INVALID_BANDWIDTH,
    ]) {
      expect(isRetryableCode(code), errorCodeName(code)).toBe(false);
    }
  });
});

describe('KvmCloneError', () => {
  it('carries code, name, message, details and cause', () => {
    const cause = new Error('socket hang up');
    const error = new KvmCloneError(ErrorCode.CONNECTION_ERROR, 'kvm1: connection lost', { host: 'kvm1' }, { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('KvmCloneError');
    expect(error.message).toBe('kvm1: connection lost');
    expect(error.code).toBe(1002);
    expect(error.codeName).toBe('CONNECTION_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.details).toEqual({ host: 'kvm1' });
    expect(error.cause).toBe(cause);
    expect(String(error)).toBe('KvmCloneError: kvm1: connection lost');
  });

  it('defaults details to an empty object and is non-retryable for permanent codes', () => {
    const error = new KvmCloneError(ErrorCode.VM_EXISTS_ERROR, 'exists');
    expect(error.details).toEqual({});
    expect(error.cause).toBeUndefined();
    expect(error.retryable).toBe(false);
  });
});
