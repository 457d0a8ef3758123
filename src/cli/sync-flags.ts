import type { SyncInput } from '../domain/schemas/sync-input';
import { ErrorCode } from '../errors';
import { wholeNumber } from './clone-flags';
import type { SyncDefaults } from './config-schema';

/** The sync command's flags as commander gives them: absent unless given. */
export interface SyncFlags {
  targetName?: string;
  /** `--no-delta` sets it false: clear and re-copy every disk. */
  delta?: boolean;
  checkpoint?: boolean;
  parallel?: string;
  compress?: boolean;
  verify?: boolean;
  preserveMac?: boolean;
  bandwidthLimit?: string;
  timeout?: string;
  detach?: boolean;
}

export interface SyncSubject {
  source: string;
  destination: string;
  vmName: string;
}

/** The workflow input: flags win over the config's `defaults.sync`, which win over the workflow's defaults. */
export function syncInputFromFlags(subject: SyncSubject, flags: SyncFlags, defaults: SyncDefaults = {}): SyncInput {
  const input: SyncInput = { ...defaults, ...subject };
  const given = <K extends keyof SyncInput>(key: K, value: SyncInput[K] | undefined): void => {
    if (value !== undefined) input[key] = value;
  };
  given('targetName', flags.targetName);
  given('deltaOnly', flags.delta);
  given('checkpoint', flags.checkpoint);
  given('parallel', flags.parallel === undefined ? undefined : wholeNumber(flags.parallel, '--parallel', ErrorCode.VALIDATION_ERROR));
  given('compress', flags.compress);
  given('verify', flags.verify);
  given('preserveMac', flags.preserveMac);
  given('bandwidthLimit', flags.bandwidthLimit);
  given('timeout', flags.timeout === undefined ? undefined : wholeNumber(flags.timeout, '--timeout', ErrorCode.INVALID_TIMEOUT));
  return input;
}
