import { CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import type { SourceNow } from '../activities/recheck-source';
import type { Consistency } from '../domain/clone-result';
import { parseDomainXml } from '../domain/domain-xml';
import type { CloneOptions } from '../domain/schemas/clone-input';
import { ErrorCode, KvmCloneError } from '../errors';
import { hostCalls } from './activity-proxies';
import type { CloneSetup } from './clone-preflight';
import { hostLabel } from './host-label';
import type { Operation } from './operation';

/**
 * The change that reads the source again once its copy is done. Runs started before it
 * define whatever they copied, whatever became of the source, and keep doing so on replay.
 */
const SOURCE_RECHECK = 'source-recheck';

/** What the copy assumed of the source the whole time it read it. */
interface SourceAssumption {
  uuid: string | undefined;
  /** Copied live from a snapshot (it must still run), or offline (it must still be shut off). */
  live: boolean;
  /** A shut-off source's file stamps from its inspection: an offline copy needs them unchanged. */
  fingerprints: Record<string, string> | undefined;
}

/** States in which a live source is still the VM whose snapshot was copied: it runs, or is paused. */
const stillRunning = new Set<SourceNow['state']>(['running', 'idle', 'paused', 'pmsuspended']);

/**
 * Copies the source with `copy`, then checks that the source is still the VM the copy is
 * of, in the state it was copied in: the same domain (by UUID), still running for a live
 * copy, still shut off with its files unchanged for an offline one. A source undefined
 * meanwhile fails the clone with 1003; one stopped during a live copy, or started (or
 * written) during an offline copy, with 1200: its copy is not the VM the operator asked
 * for, and an offline copy of a running VM is inconsistent. When the copy itself fails
 * (a file that changed fails its verification, a vanished file its read), a changed source
 * is the better explanation and is reported instead.
 */
export async function copyOfUnchangedSource<T>(
  operation: Operation<CloneOptions>,
  setup: CloneSetup,
  consistency: Consistency,
  copy: () => Promise<T>,
): Promise<T> {
  const assumption: SourceAssumption = {
    uuid: parseDomainXml(setup.inspection.inactiveXml).uuid?.toLowerCase(),
    live: consistency !== 'offline',
    fingerprints: setup.inspection.state === 'shut off' ? setup.inspection.fingerprints : undefined,
  };
  let copied: T;
  try {
    copied = await copy();
  } catch (error) {
    if (isCancellation(error) || CancellationScope.current().consideredCancelled || !patched(SOURCE_RECHECK))
      throw error;
    // The source could not be read again (a host down, say): the copy's own failure stands.
    const now = await recheck(operation, assumption).catch(() => undefined);
    throw (now && sourceChange(operation, assumption, now)) ?? error;
  }
  if (patched(SOURCE_RECHECK)) {
    const change = sourceChange(operation, assumption, await recheck(operation, assumption));
    if (change) throw change;
  }
  return copied;
}

function recheck(operation: Operation<CloneOptions>, assumption: SourceAssumption): Promise<SourceNow> {
  const { source, vmName } = operation.options;
  return hostCalls.recheckSource({ source, vmName, paths: Object.keys(assumption.fingerprints ?? {}) });
}

/** What became of the source that makes its copy unusable, as the error the clone fails with; undefined when nothing did. */
function sourceChange(
  operation: Operation<CloneOptions>,
  assumption: SourceAssumption,
  now: SourceNow,
): KvmCloneError | undefined {
  const { source, vmName } = operation.options;
  const vm = `VM '${vmName}' on ${hostLabel(source)}`;
  const details = { vmName, host: hostLabel(source), ...(now.state ? { state: now.state } : {}) };
  const changed = (code: typeof ErrorCode.VM_NOT_FOUND_ERROR | typeof ErrorCode.CLONE_ERROR, message: string) =>
    new KvmCloneError(code, `${message}; the copy was discarded`, details, { retryable: false });
  if (now.state === undefined) return changed(ErrorCode.VM_NOT_FOUND_ERROR, `${vm} was undefined during the copy`);
  if (assumption.uuid !== undefined && now.uuid !== undefined && now.uuid !== assumption.uuid)
    return changed(
      ErrorCode.VM_NOT_FOUND_ERROR,
      `${vm} was replaced during the copy by another domain of that name (UUID ${now.uuid}, was ${assumption.uuid})`,
    );
  if (assumption.live) {
    if (stillRunning.has(now.state)) return undefined;
    return changed(
      ErrorCode.CLONE_ERROR,
      `${vm} stopped during the copy of it running (it is ${now.state} now); clone it again`,
    );
  }
  if (now.state !== 'shut off')
    return changed(
      ErrorCode.CLONE_ERROR,
      `${vm} was started during the copy of it shut off (it is ${now.state} now): disks read while a guest runs, without a snapshot, are inconsistent; clone it again, running (a live copy) or shut off`,
    );
  const touched = Object.entries(assumption.fingerprints ?? {})
    .filter(([path, stamp]) => now.fingerprints?.[path] !== stamp)
    .map(([path]) => path);
  if (touched.length > 0)
    return changed(
      ErrorCode.CLONE_ERROR,
      `the files of ${vm} changed during the copy of it shut off (${touched.join(', ')}): was it started meanwhile? clone it again while it stays shut off`,
    );
  return undefined;
}
