import type { SyncInput } from '../domain/schemas/sync-input';
import { dataPathInputFromFlags, type DataPathFlags } from './data-path-flags';
import type { SyncDefaults } from './config-schema';

/** The sync command's flags as commander gives them: absent unless given. */
export interface SyncFlags extends DataPathFlags {
  targetName?: string;
  /** `--no-delta` sets it false: clear and re-copy every disk. */
  delta?: boolean;
  checkpoint?: boolean;
  fullVerify?: boolean;
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
  given('fullVerify', flags.fullVerify);
  Object.assign(input, dataPathInputFromFlags(flags));
  return input;
}
