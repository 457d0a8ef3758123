import type { z } from 'zod';
import { ErrorCode, KvmCloneError, type ErrorCodeValue } from '../../errors';

/** The 13xx code that names what is wrong with a field, by the field's name. */
function codeForField(path: readonly PropertyKey[]): ErrorCodeValue {
  // A record's keys are user data (a network named 'lan-name'), not field names.
  if (path[0] === 'networkMap') return ErrorCode.VALIDATION_ERROR;
  const field = String(path.findLast((key) => typeof key === 'string') ?? '');
  if (field === 'address' || field === 'source' || field === 'destination') return ErrorCode.INVALID_HOST;
  if (/name$/i.test(field)) return ErrorCode.INVALID_VM_NAME;
  if (/(dir|path|file)$/i.test(field)) return ErrorCode.INVALID_PATH;
  if (field === 'port') return ErrorCode.INVALID_PORT;
  if (field === 'timeout') return ErrorCode.INVALID_TIMEOUT;
  if (field === 'bandwidthLimit') return ErrorCode.INVALID_BANDWIDTH;
  return ErrorCode.VALIDATION_ERROR;
}

/**
 * Validates with a zod schema and turns the first problem into a KvmCloneError whose
 * code and message name the field, e.g. `newName: VM name must not contain '/'` (1301).
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.') || what;
  throw new KvmCloneError(codeForField(issue.path), `invalid ${what}: ${field}: ${issue.message}`, {
    field,
    issues: result.error.issues.map((each) => ({ path: each.path.map(String), message: each.message })),
  });
}
