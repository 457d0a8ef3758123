import { cutoverTimeSchema, type MigrateOptions } from '../domain/schemas/migrate-input';
import { ErrorCode, KvmCloneError } from '../errors';

/**
 * A cutover time as the workflow takes it, checked before anything is sent: a `cutover`
 * signal with a malformed time could only be ignored by the workflow, since a signal
 * cannot be refused. `name` is what the message calls it (a flag, or a field).
 */
export function checkedCutoverTime(at: string, name: string): string {
  const parsed = cutoverTimeSchema.safeParse(at);
  if (parsed.success) return parsed.data;
  throw new KvmCloneError(
    ErrorCode.VALIDATION_ERROR,
    `${name}: '${at}' is not an ISO 8601 time with a zone (e.g. 2026-12-24T02:00:00Z or 2026-12-24T03:00:00+01:00)`,
    { field: name, at },
  );
}

/**
 * A cutover set for after the migration's timeout would never come: the migration would
 * give up first, after hours of syncs, and leave the source where it was. Refused at the
 * start instead, with 1304, pointing at the timeout.
 */
export function requireCutoverWithinTimeout(
  options: Pick<MigrateOptions, 'cutoverAt' | 'timeout'>,
  now: number = Date.now(),
): void {
  if (options.cutoverAt === undefined) return;
  const waitSeconds = (Date.parse(options.cutoverAt) - now) / 1000;
  if (waitSeconds < options.timeout) return;
  throw new KvmCloneError(
    ErrorCode.INVALID_TIMEOUT,
    `the cutover at ${options.cutoverAt} is ${Math.ceil(waitSeconds)} s away, after the migration's timeout of ${options.timeout} s, when it would give up: raise the timeout above that, with time for the final sync`,
    { cutoverAt: options.cutoverAt, timeout: options.timeout },
  );
}
