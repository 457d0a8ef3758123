import { KvmCloneError, ErrorCode } from '../errors';
import type { MigrateResult } from '../domain/migration';
import { migrateInputSchema, type MigrateInput, type MigrateOptions } from '../domain/schemas/migrate-input';
import { preflightCalls } from './activity-proxies';
import { CutoverControl } from './migration-control';
import { cutOver, retireStoppedSource, type Cutover } from './migration-cutover';
import { migrateLive } from './migration-live';
import { MigrationPasses } from './migration-passes';
import { notifiedOperation, notifyOf, withNotifications } from './notifications';
import { beginOperation, type Operation } from './operation';

/**
 * Moves a VM to another host with seconds of downtime (a warm migration). A live clone
 * copies the running VM, keeping its UUID and MACs; checkpoint syncs then send what the
 * guest wrote meanwhile, until a sync takes no longer than the downtime allowed. At the
 * cutover (now, at a time, or on an operator's `cutover` signal) the source is paused, a
 * last sync sends the rest, and the copy starts on the destination; only once it runs is
 * the source undefined (or kept, stopped). Until then any failure or cancellation resumes
 * the source and removes the copy and the checkpoints. A shut-off VM is copied and moved
 * without passes.
 */
export async function migrateVM(input: MigrateInput): Promise<MigrateResult> {
  return withNotifications(notifyOf(input), notifiedOperation('migrate', input, input.newName ?? input.vmName), () =>
    migrateOperation(input),
  );
}

/** migrateVM without its notifications. */
async function migrateOperation(input: MigrateInput): Promise<MigrateResult> {
  const operation = beginOperation('migrate', migrateInputSchema, input);
  const control = new CutoverControl(operation.options, operation.warnings);
  const afterStop = '; the source was left as it was and the copy removed';
  return operation.run({ afterStop }, async () => {
    try {
      return await migrate(operation, control);
    } catch (error) {
      control.progress.phase = 'failed';
      throw error;
    }
  });
}

async function migrate(operation: Operation<MigrateOptions>, control: CutoverControl): Promise<MigrateResult> {
  const { options, progress } = operation;
  progress.phase = 'preflight';
  const source = await runningState(operation);
  if (options.mode === 'live') return migrateLiveMode(operation, control, source);
  const passes = new MigrationPasses(operation, control, options.newName ?? options.vmName, source.uuid);
  progress.phase = 'copying';
  const clone = await passes.initialCopy();
  let cutover: Cutover;
  if (source.running) {
    do {
      await passes.converge();
      await control.waitUntilDue(options.syncInterval, () => passes.sync('sync'));
    } while (!passes.converged());
    cutover = await cutOver(operation, control, passes, source.uuid);
  } else {
    cutover = await retireStoppedSource(operation, control, source.uuid);
  }
  progress.phase = 'done';
  control.progress.phase = 'done';
  return migrateResult(operation, control, passes.newName, clone.consistency, cutover);
}

/** libvirt's live migration of a running source; a shut-off one has nothing live to move. */
async function migrateLiveMode(
  operation: Operation<MigrateOptions>,
  control: CutoverControl,
  source: { uuid: string; running: boolean },
): Promise<MigrateResult> {
  const { vmName } = operation.options;
  if (!source.running)
    throw new KvmCloneError(
      ErrorCode.MIGRATION_ERROR,
      `'${vmName}' is shut off: live mode moves a running VM; use warm mode, which copies a shut-off one`,
      { vmName },
      { retryable: false },
    );
  operation.progress.phase = 'copying';
  const outcome = await migrateLive(operation, control, source.uuid);
  operation.progress.phase = 'done';
  control.progress.phase = 'done';
  const cutover = { downtimeSeconds: outcome.downtimeSeconds, guestFrozen: false };
  return migrateResult(operation, control, operation.options.newName ?? vmName, 'live', cutover);
}

/** The source's UUID (every later step checks it) and whether it runs. */
async function runningState(operation: Operation<MigrateOptions>): Promise<{ uuid: string; running: boolean }> {
  const { source, vmName } = operation.options;
  const now = await preflightCalls.recheckSource({ source, vmName, paths: [] });
  if (now.uuid === undefined || now.state === undefined)
    throw new KvmCloneError(
      ErrorCode.VM_NOT_FOUND_ERROR,
      `VM '${vmName}' does not exist on the source`,
      { vmName },
      { retryable: false },
    );
  return { uuid: now.uuid, running: now.state !== 'shut off' };
}

function migrateResult(
  operation: Operation<MigrateOptions>,
  control: CutoverControl,
  newName: string,
  consistency: MigrateResult['consistency'],
  cutover: Cutover,
): MigrateResult {
  const { passes } = control.progress;
  return {
    ...operation.resultFields(),
    newName,
    passes,
    bytesTransferred: passes.reduce((sum, pass) => sum + pass.bytesTransferred, 0),
    downtimeSeconds: cutover.downtimeSeconds,
    mode: operation.options.mode,
    cutover: operation.options.mode === 'live' ? 'live' : 'pause',
    guestFrozen: cutover.guestFrozen,
    consistency,
    sourceKept: operation.options.keepSource,
  };
}
