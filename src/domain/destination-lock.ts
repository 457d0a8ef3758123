import { joinPath } from './paths';
import { shortHash } from './short-hash';

/** The directory, in a host's first writable root, where operations lock the VM names they write. */
export const LOCKS_DIRECTORY = '.kvm-clone-locks';

/** Who holds a destination lock: one run of one operation, in one Temporal namespace. */
export interface LockHolder {
  namespace: string;
  operationId: string;
  runId: string;
  /** The VM name the lock is for, so that an operator reading the lock sees what it guards. */
  name: string;
}

/**
 * The lock of a VM name on a host: a directory that `mkdir` creates atomically or not at
 * all. The name is made file-safe for a reader, and its hash keeps two names that read the
 * same apart.
 */
export function lockPathFor(root: string, name: string): string {
  const readable = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return joinPath(root, `${LOCKS_DIRECTORY}/${readable}-${shortHash(name)}`);
}

/**
 * What the lock's `holder` file says: fixed key order, so that one holder always writes the same bytes and a retry
 * recognises its own lock.
 */
export function holderRecord(holder: LockHolder): string {
  return JSON.stringify({
    namespace: holder.namespace,
    operationId: holder.operationId,
    runId: holder.runId,
    name: holder.name,
  });
}

/** A holder file's content, or undefined for one that is empty (being written) or not ours. */
export function parseHolderRecord(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Record<keyof LockHolder, unknown>>;
    const { namespace, operationId, runId, name } = value;
    if (
      typeof namespace !== 'string' ||
      typeof operationId !== 'string' ||
      typeof runId !== 'string' ||
      typeof name !== 'string'
    )
      return undefined;
    return { namespace, operationId, runId, name };
  } catch {
    return undefined;
  }
}

/** The holder as a message names it. */
export function describeHolder(holder: LockHolder | undefined): string {
  return holder
    ? `operation ${holder.operationId} (run ${holder.runId})`
    : 'an operation that has not recorded itself yet';
}
