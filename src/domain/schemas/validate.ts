import { z } from 'zod';
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

/** A known key that `unknown` is probably a typo of: the same letters, case and separators aside. */
function likelyMeant(schema: z.ZodType, path: readonly PropertyKey[], unknown: string): string | undefined {
  if (path.length > 0 || !(schema instanceof z.ZodObject)) return undefined;
  const squash = (key: string) => key.toLowerCase().replace(/[-_]/g, '');
  return Object.keys(schema.shape).find((key) => squash(key) === squash(unknown));
}

/**
 * Validates with a zod schema and turns the first problem into a KvmCloneError whose
 * code and message name the field, e.g. `newName: VM name must not contain '/'` (1301).
 * An unknown key (schemas of workflow inputs are strict) is named too, with the key it
 * probably meant: `unrecognized key 'dryrun' (did you mean 'dryRun'?)` (1007).
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const issues = result.error.issues.map((each) => ({ path: each.path.map(String), message: each.message }));
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((key) => {
      const meant = likelyMeant(schema, issue.path, key);
      return meant ? `'${key}' (did you mean '${meant}'?)` : `'${key}'`;
    });
    const field = [...issue.path.map(String), issue.keys[0]!].join('.');
    const where = issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
    throw new KvmCloneError(
      codeForField(issue.path),
      `invalid ${what}: ${where}unrecognized key${names.length > 1 ? 's' : ''} ${names.join(', ')}`,
      {
        field,
        unrecognizedKeys: issue.keys,
        issues,
      },
    );
  }
  const field = issue.path.map(String).join('.') || what;
  throw new KvmCloneError(codeForField(issue.path), `invalid ${what}: ${field}: ${issue.message}`, { field, issues });
}
