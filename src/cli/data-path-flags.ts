import { ErrorCode, KvmCloneError, type ErrorCodeValue } from '../errors';

/** Flags that clone and sync share: how data moves, and how long the operation may take. */
export interface DataPathFlags {
  parallel?: string;
  compress?: boolean;
  verify?: boolean;
  preserveMac?: boolean;
  bandwidthLimit?: string;
  timeout?: string;
}

/** What those flags set in a workflow input; absent flags set nothing, so defaults stay. */
export interface DataPathInput {
  parallel?: number;
  compress?: boolean;
  verify?: boolean;
  preserveMac?: boolean;
  bandwidthLimit?: string;
  timeout?: number;
}

export function wholeNumber(text: string, flag: string, code: ErrorCodeValue): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value))
    throw new KvmCloneError(code, `${flag}: '${text}' is not a whole number`, { flag });
  return value;
}

export function dataPathInputFromFlags(flags: DataPathFlags): DataPathInput {
  const input: DataPathInput = {};
  if (flags.parallel !== undefined)
    input.parallel = wholeNumber(flags.parallel, '--parallel', ErrorCode.VALIDATION_ERROR);
  if (flags.compress !== undefined) input.compress = flags.compress;
  if (flags.verify !== undefined) input.verify = flags.verify;
  if (flags.preserveMac !== undefined) input.preserveMac = flags.preserveMac;
  if (flags.bandwidthLimit !== undefined) input.bandwidthLimit = flags.bandwidthLimit;
  if (flags.timeout !== undefined) input.timeout = wholeNumber(flags.timeout, '--timeout', ErrorCode.INVALID_TIMEOUT);
  return input;
}
