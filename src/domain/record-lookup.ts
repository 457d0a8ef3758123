/**
 * `record[key]` for maps that come from user input: inherited keys such as `constructor`
 * or `toString` map to nothing, so a VM's network or disk with such a name is never
 * rewritten by accident.
 */
export function lookup<T>(record: Readonly<Record<string, T>> | undefined, key: string | undefined): T | undefined {
  if (!record || key === undefined || !Object.hasOwn(record, key)) return undefined;
  return record[key];
}
