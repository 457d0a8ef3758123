import { ErrorCode, KvmCloneError } from '../errors';

/** The exit status of a command line kvm-clone refuses, as with other Unix tools: a script tells it from a failure. */
export const USAGE_EXIT_STATUS = 2;

/**
 * A command line that cannot work as given, found after parsing (flags that contradict how the command runs): code
 * 1007 like commander's own usage mistakes, and exit status 2.
 */
export class UsageError extends KvmCloneError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.VALIDATION_ERROR, message, details, { retryable: false });
  }
}

/** The exit status a failure ends the command with. */
export function exitStatusOf(error: unknown): number {
  return error instanceof UsageError ? USAGE_EXIT_STATUS : 1;
}
