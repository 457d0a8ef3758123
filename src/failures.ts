import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { ErrorCode, KvmCloneError, errorCodeName, isRetryableCode, type ErrorCodeValue } from './errors';

/** What a failed operation tells its caller: the error code, its name and a message. */
export interface FailureInfo {
  code: ErrorCodeValue;
  codeName: string;
  message: string;
}

/**
 * A KvmCloneError as a Temporal failure: its type is the code's name, its first detail
 * carries the code, and codes that retrying cannot fix are non-retryable.
 */
export function toApplicationFailure(error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof KvmCloneError) {
    return ApplicationFailure.create({
      type: error.codeName,
      message: error.message,
      nonRetryable: !error.retryable,
      details: [{ ...error.details, code: error.code }],
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return ApplicationFailure.create({
    type: 'GENERAL_ERROR',
    message,
    details: [{ code: ErrorCode.GENERAL_ERROR }],
    cause: error instanceof Error ? error : undefined,
  });
}

function codeOfApplicationFailure(failure: ApplicationFailure): ErrorCodeValue | undefined {
  const detail = failure.details?.[0] as { code?: unknown } | undefined;
  return typeof detail?.code === 'number' ? (detail.code as ErrorCodeValue) : undefined;
}

/**
 * The innermost kvm-clone error code in a Temporal failure chain (a workflow failure
 * wraps an activity failure wraps the application failure that holds the code).
 */
export function failureInfo(error: unknown): FailureInfo {
  let found: FailureInfo | undefined;
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (current instanceof KvmCloneError) {
      return { code: current.code, codeName: current.codeName, message: current.message };
    }
    if (current instanceof ApplicationFailure) {
      const code = codeOfApplicationFailure(current);
      if (code !== undefined) found = { code, codeName: errorCodeName(code), message: current.message };
    }
    if (!(current instanceof TemporalFailure) && !(current.cause instanceof Error)) break;
  }
  if (found) return found;
  const message = error instanceof Error ? error.message : String(error);
  return { code: ErrorCode.GENERAL_ERROR, codeName: 'GENERAL_ERROR', message };
}

export function failureFromInfo(info: FailureInfo): ApplicationFailure {
  return ApplicationFailure.create({
    type: info.codeName,
    message: info.message,
    nonRetryable: !isRetryableCode(info.code),
    details: [{ code: info.code }],
  });
}
