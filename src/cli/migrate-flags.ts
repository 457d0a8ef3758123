import { checkedCutoverTime } from '../client/cutover-time';
import type { MigrateInput } from '../domain/schemas/migrate-input';
import { ErrorCode, KvmCloneError } from '../errors';
import { wholeNumber, type DataPathFlags } from './data-path-flags';
import { operationInputFromFlags, type OperationSubject } from './operation-input';

/** The migrate command's flags as commander gives them: absent unless given. */
export interface MigrateFlags extends DataPathFlags {
  newName?: string;
  destDir?: string;
  mode?: 'warm' | 'live';
  maxDowntime?: string;
  maxPasses?: string;
  cutoverAt?: string;
  hold?: boolean;
  syncInterval?: string;
  keepSource?: boolean;
}

/** Seconds as a number, fractions allowed (`--max-downtime 2.5`); a unit or a word is a validation error. */
function seconds(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value))
    throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, `${flag}: '${text}' is not a number of seconds`, { flag });
  return value;
}

/**
 * The workflow input: flags over the workflow's defaults (there is no `defaults.migrate` in
 * the config). The numbers are checked for their form here, naming the flag; their ranges
 * are the schema's, checked when the migration starts.
 */
export function migrateInputFromFlags(subject: OperationSubject, flags: MigrateFlags): MigrateInput {
  return operationInputFromFlags<MigrateInput>(
    subject,
    {},
    {
      newName: flags.newName,
      destDir: flags.destDir,
      mode: flags.mode,
      maxDowntime: flags.maxDowntime === undefined ? undefined : seconds(flags.maxDowntime, '--max-downtime'),
      maxPasses:
        flags.maxPasses === undefined
          ? undefined
          : wholeNumber(flags.maxPasses, '--max-passes', ErrorCode.VALIDATION_ERROR),
      cutoverAt: flags.cutoverAt === undefined ? undefined : checkedCutoverTime(flags.cutoverAt, '--cutover-at'),
      holdCutover: flags.hold,
      syncInterval:
        flags.syncInterval === undefined
          ? undefined
          : wholeNumber(flags.syncInterval, '--sync-interval', ErrorCode.VALIDATION_ERROR),
      keepSource: flags.keepSource,
    },
    flags,
  );
}
