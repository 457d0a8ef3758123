/**
 * Error codes of the original kvm-clone tool, kept stable because scripts check them.
 * New codes go inside the same ranges.
 */
export const ErrorCode = {
  GENERAL_ERROR: 1000,
  CONFIGURATION_ERROR: 1001,
  CONNECTION_ERROR: 1002,
  VM_NOT_FOUND_ERROR: 1003,
  VM_EXISTS_ERROR: 1004,
  INSUFFICIENT_RESOURCES_ERROR: 1005,
  TRANSFER_ERROR: 1006,
  VALIDATION_ERROR: 1007,
  OPERATION_CANCELLED_ERROR: 1008,
  LIBVIRT_ERROR: 1009,
  AUTH_ERROR: 1100,
  SSH_KEY_ERROR: 1101,
  PERMISSION_DENIED: 1102,
  HOST_KEY_ERROR: 1103,
  CLONE_ERROR: 1200,
  SYNC_ERROR: 1201,
  OPERATION_TIMEOUT: 1202,
  OPERATION_NOT_FOUND: 1203,
  DISK_SPACE_ERROR: 1204,
  NETWORK_ERROR: 1205,
  MIGRATION_ERROR: 1206,
  INVALID_HOST: 1300,
  INVALID_VM_NAME: 1301,
  INVALID_PATH: 1302,
  INVALID_PORT: 1303,
  INVALID_TIMEOUT: 1304,
  INVALID_BANDWIDTH: 1305,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

const nameByCode = new Map<number, ErrorCodeName>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name as ErrorCodeName]),
);

export function errorCodeName(code: number): ErrorCodeName {
  return nameByCode.get(code) ?? 'GENERAL_ERROR';
}

/**
 * Codes where retrying the same call cannot succeed: the input or the state of a host
 * must change first. Activities turn these into non-retryable Temporal failures.
 */
const nonRetryableCodes = new Set<number>([
  ErrorCode.CONFIGURATION_ERROR,
  ErrorCode.VM_NOT_FOUND_ERROR,
  ErrorCode.VM_EXISTS_ERROR,
  ErrorCode.INSUFFICIENT_RESOURCES_ERROR,
  ErrorCode.VALIDATION_ERROR,
  ErrorCode.OPERATION_CANCELLED_ERROR,
  ErrorCode.AUTH_ERROR,
  ErrorCode.SSH_KEY_ERROR,
  ErrorCode.PERMISSION_DENIED,
  ErrorCode.HOST_KEY_ERROR,
  ErrorCode.OPERATION_NOT_FOUND,
  ErrorCode.DISK_SPACE_ERROR,
  ErrorCode.NETWORK_ERROR,
  ErrorCode.MIGRATION_ERROR,
  ErrorCode.INVALID_HOST,
  ErrorCode.INVALID_VM_NAME,
  ErrorCode.INVALID_PATH,
  ErrorCode.INVALID_PORT,
  ErrorCode.INVALID_TIMEOUT,
  ErrorCode.INVALID_BANDWIDTH,
]);

export function isRetryableCode(code: number): boolean {
  return !nonRetryableCodes.has(code);
}

/** The one error type of kvm-clone: a code from the table above and a message for humans. */
export class KvmCloneError extends Error {
  override readonly name = 'KvmCloneError';

  constructor(
    readonly code: ErrorCodeValue,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryableOverride = options?.retryable;
  }

  /** Set where the situation, not the code, decides: a missing emulator is a 1009 that no retry fixes. */
  private readonly retryableOverride: boolean | undefined;

  get codeName(): ErrorCodeName {
    return errorCodeName(this.code);
  }

  get retryable(): boolean {
    return this.retryableOverride ?? isRetryableCode(this.code);
  }
}
