import type { SyncInput } from '../domain/schemas/sync-input';
import type { DataPathFlags } from './data-path-flags';
import { operationInputFromFlags, type OperationSubject } from './operation-input';
import type { SyncDefaults } from './config-schema';

/** The sync command's flags as commander gives them: absent unless given. */
export interface SyncFlags extends DataPathFlags {
  targetName?: string;
  /** `--no-delta` sets it false: clear and re-copy every disk. */
  delta?: boolean;
  checkpoint?: boolean;
  fullVerify?: boolean;
}

/** The workflow input: flags win over the config's `defaults.sync`, which win over the workflow's defaults. */
export function syncInputFromFlags(
  subject: OperationSubject,
  flags: SyncFlags,
  defaults: SyncDefaults = {},
): SyncInput {
  return operationInputFromFlags<SyncInput>(
    subject,
    defaults,
    {
      targetName: flags.targetName,
      deltaOnly: flags.delta,
      checkpoint: flags.checkpoint,
      fullVerify: flags.fullVerify,
    },
    flags,
  );
}
