import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { checkpointPrefix } from '../domain/change-tracking';
import type { MigrateOptions } from '../domain/schemas/migrate-input';
import { ErrorCode, KvmCloneError } from '../errors';
import { failureInfo } from '../failures';
import { cleanup, hostCalls, optionalCalls } from './activity-proxies';
import { hostLabel } from './host-label';
import type { CutoverControl } from './migration-control';
import type { MigrationPasses } from './migration-passes';
import type { Operation } from './operation';

/** What the cutover cost. */
export interface Cutover {
  downtimeSeconds: number;
  guestFrozen: boolean;
}

/**
 * Pauses the source, sends the last delta, and starts the copy; then retires the source.
 * Until the copy runs, a failure stops the copy (if it was started) and only then resumes
 * the source, so the two never run at once. Once the copy runs, nothing is undone: the
 * source stays paused until it is retired.
 */
export async function cutOver(
  operation: Operation<MigrateOptions>,
  control: CutoverControl,
  passes: MigrationPasses,
  uuid: string,
): Promise<Cutover> {
  const { source, destination, vmName } = operation.options;
  const sourceVm = { source, vmName, uuid };
  const copy = { destination, vmName: passes.newName, uuid };
  control.progress.phase = 'cutover';
  const paused = await hostCalls.pauseSource(sourceVm);
  control.progress.guestFrozen = paused.guestFrozen;
  operation.warnings.push(...paused.warnings);
  let copyStarting = false;
  operation.compensations.add(
    'resume the source',
    async () => {
      if (copyStarting) await cleanup.stopMigratedVm(copy);
      await cleanup.resumeSource({ ...sourceVm, thaw: paused.guestFrozen });
    },
    `'${vmName}' on ${hostLabel(source)} is paused; check that '${passes.newName}' on ${hostLabel(destination)} is not running, then resume it`,
  );
  await passes.sync('final');
  copyStarting = true;
  const { startedAt } = await hostCalls.startMigratedVm(copy);
  // The copy runs: resuming the source now would run the VM twice, and a cancel or timeout must not stop its retirement.
  operation.compensations.clear();
  control.progress.phase = 'retiring-source';
  await CancellationScope.nonCancellable(() => retire(operation, uuid));
  return { downtimeSeconds: (startedAt - paused.pausedAt) / 1000, guestFrozen: paused.guestFrozen };
}

/** A shut-off source, once copied: retired at once, if it is still shut off. */
export async function retireStoppedSource(
  operation: Operation<MigrateOptions>,
  control: CutoverControl,
  uuid: string,
): Promise<Cutover> {
  control.progress.phase = 'retiring-source';
  await retire(operation, uuid, { mustBeShutOff: true });
  return { downtimeSeconds: 0, guestFrozen: false };
}

/** Removes the migration's checkpoints from the source, then stops it and undefines it (or keeps it, stopped). */
export async function retire(
  operation: Operation<MigrateOptions>,
  uuid: string,
  check = { mustBeShutOff: false },
): Promise<void> {
  const { source, vmName, keepSource } = operation.options;
  const prefix = checkpointPrefix(uuid);
  try {
    await optionalCalls.removeCheckpoints({ source, vmName, prefix, keep: [] });
  } catch (error) {
    if (isCancellation(error)) throw error;
    operation.warnings.push(`could not remove checkpoints ${prefix}* from '${vmName}': ${failureInfo(error).message}`);
  }
  try {
    await hostCalls.retireSource({ source, vmName, uuid, keep: keepSource, ...check });
  } catch (error) {
    if (check.mustBeShutOff) throw error;
    throw new KvmCloneError(
      ErrorCode.MIGRATION_ERROR,
      `'${vmName}' runs on ${hostLabel(operation.options.destination)}, but the source on ${hostLabel(source)} could not be retired (${failureInfo(error).message}): it is stopped there; undefine it (virsh undefine --keep-nvram), do not start or resume it`,
      { vmName },
      { retryable: false },
    );
  }
}
