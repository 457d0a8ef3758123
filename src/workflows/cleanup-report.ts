import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorCode, errorCodeName, isRetryableCode } from '../errors';
import type { FailureInfo } from '../failures';
import type { OperationKind } from './operation';
import type { CleanupFailure } from './compensations';

/** The cleanup failures as a sentence: each step, why it failed, and what it left. */
export function describeCleanupFailures(failures: readonly CleanupFailure[]): string {
  return failures
    .map((failure) => `${failure.step} (${failure.message})${failure.left ? `; ${failure.left}` : ''}`)
    .join('; ');
}

/**
 * How an operation fails once its cleanup is known. With every undo done, the failure is
 * the cause as it was. When an undo failed, the code becomes 1200 (clone), 1201 (sync) or 1206 (migrate):
 * something was left on a host and needs a person, whatever went wrong first, so a script
 * retrying on the first cause's code (a retryable 1006, a timeout) does not run into what
 * was left. The message says what failed first and then exactly what cleanup left; the
 * details keep the first cause's code (`cause`) and each failed step (`cleanupFailures`).
 */
export function operationFailure(
  kind: OperationKind,
  cause: FailureInfo & { type?: string },
  failures: readonly CleanupFailure[],
): ApplicationFailure {
  if (failures.length === 0) {
    return ApplicationFailure.create({
      type: cause.type ?? cause.codeName,
      message: cause.message,
      nonRetryable: !isRetryableCode(cause.code),
      details: [{ code: cause.code }],
    });
  }
  const code = { clone: ErrorCode.CLONE_ERROR, sync: ErrorCode.SYNC_ERROR, migrate: ErrorCode.MIGRATION_ERROR }[kind];
  return ApplicationFailure.create({
    type: errorCodeName(code),
    message: `${cause.message}; cleanup failed: ${describeCleanupFailures(failures)}`,
    nonRetryable: true,
    details: [{ code, cause: { code: cause.code, codeName: cause.codeName }, cleanupFailures: failures }],
  });
}
