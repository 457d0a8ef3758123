import { directoryOf } from '../domain/paths';
import { sh } from '../domain/shell-quote';
import { ErrorCode } from '../errors';
import type { SshSession } from './ssh-session';

/** The lock directory's file naming the holder. */
const HOLDER_FILE = 'holder';
/** A replaced VM's saved definition: while it is in the lock, the VM may still need restoring. */
export const REPLACED_XML_FILE = 'replaced.xml';
/** Whether the replaced VM ran (`running`) or not (`shut off`) when it was set aside. */
export const REPLACED_STATE_FILE = 'replaced.state';

export type LockAttempt = { acquired: true } | { acquired: false; holderRecord: string; replacedPending: boolean };

/**
 * Creates the lock directory with `mkdir`, which succeeds for exactly one caller, and
 * writes the holder into it; or reports who holds it. Mode 700: a replaced VM's saved
 * definition, passwords included, may come to lie in it. A lock already holding `record`
 * is this operation's own (a retry after a lost reply).
 */
export async function tryLock(session: SshSession, lockPath: string, record: string): Promise<LockAttempt> {
  const holder = `${lockPath}/${HOLDER_FILE}`;
  const output = await session.run(
    // The locks directory is made inside the root, never the root itself: a root that is missing is the operator's to fix.
    sh`locks=${directoryOf(lockPath)}; mkdir -- "$locks" 2>/dev/null; if [ ! -d "$locks" ]; then printf 'cannot create %s\\n' "$locks" >&2; exit 1; fi; if mkdir -m 700 -- ${lockPath} 2>/dev/null; then if printf %s ${record} > ${holder}; then echo acquired; else rm -rf -- ${lockPath}; exit 1; fi; else echo held; if [ -e ${`${lockPath}/${REPLACED_XML_FILE}`} ]; then echo replaced; else echo free; fi; cat -- ${holder} 2>/dev/null || true; fi`,
    { what: `locking ${lockPath}`, failureCode: ErrorCode.CONFIGURATION_ERROR },
  );
  const [status, replaced, ...rest] = output.split('\n');
  if (status === 'acquired') return { acquired: true };
  const holderRecord = rest.join('\n');
  if (holderRecord === record) return { acquired: true };
  return { acquired: false, holderRecord, replacedPending: replaced === 'replaced' };
}

/**
 * Takes over a lock whose holder is known to be gone, if it still names that holder and
 * guards no replaced VM awaiting restore. flock(1) on the directory makes the check and
 * the write one step, so of two operations taking over the same stale lock one wins.
 */
export async function takeOverLock(
  session: SshSession,
  lockPath: string,
  staleRecord: string,
  record: string,
): Promise<boolean> {
  const script =
    'if [ "$(cat -- "$1/holder" 2>/dev/null)" = "$2" ] && [ ! -e "$1/replaced.xml" ]; then printf %s "$3" > "$1/holder.new" && mv -f -- "$1/holder.new" "$1/holder" && echo taken; fi';
  const output = await session.run(sh`flock ${lockPath} sh -c ${script} sh ${lockPath} ${staleRecord} ${record}`, {
    what: `taking over the stale lock ${lockPath} (flock)`,
    failureCode: ErrorCode.CONFIGURATION_ERROR,
  });
  return output.trim() === 'taken';
}

export type UnlockOutcome = 'released' | 'not-held' | 'replaced-pending';

/**
 * Removes the lock if `record` holds it. A lock that still holds a replaced VM's saved
 * definition is kept: that VM was neither restored nor removed, and the saved XML is how
 * an operator brings it back.
 */
export async function unlock(session: SshSession, lockPath: string, record: string): Promise<UnlockOutcome> {
  const output = await session.run(
    sh`if [ "$(cat -- ${`${lockPath}/${HOLDER_FILE}`} 2>/dev/null)" = ${record} ]; then if [ -e ${`${lockPath}/${REPLACED_XML_FILE}`} ]; then echo replaced-pending; else rm -rf -- ${lockPath} && echo released; fi; else echo not-held; fi`,
    { what: `unlocking ${lockPath}` },
  );
  return output.trim() as UnlockOutcome;
}
