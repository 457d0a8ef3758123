import { patched } from '@temporalio/workflow';
import type { Consistency } from '../domain/clone-result';
import { SYNC_BLOCK_SIZE } from '../domain/block-delta';
import { syncInputSchema, type SyncInput, type SyncOptions } from '../domain/schemas/sync-input';
import { fileSyncResult, syncTotals } from '../domain/sync-plan';
import type { SyncResult } from '../domain/sync-result';
import { holdDestinationLock } from './destination-lock';
import { sourceVm, withFrozenSource } from './frozen-source';
import { notifiedOperation, notifyOf, withNotifications } from './notifications';
import { beginOperation, type Operation } from './operation';
import { SyncCheckpoints } from './sync-checkpoints';
import { syncFiles } from './sync-files';
import { syncSetup, type SyncSetup } from './sync-preflight';
import { SyncTarget } from './sync-target';

/**
 * Brings an existing copy on the destination up to date with the source VM. Both hosts
 * hash their blocks in place and only differing blocks cross the wire; a running source
 * is snapshotted and merged back, as in a clone. The target keeps its name, UUID, MACs
 * and disk paths, and stays marked incomplete until a sync into it finishes.
 *
 * The sync holds the destination lock on the target's name (the one clones take on their
 * new name), writes added disks under partial names renamed at the end, and redefines the
 * target only while it is still the domain it inspected (same UUID). An undo that fails
 * makes the failure say what it left (1201, see cleanup-report.ts).
 */
export async function syncVM(input: SyncInput): Promise<SyncResult> {
  return withNotifications(notifyOf(input), notifiedOperation('sync', input, input.targetName ?? input.vmName), () =>
    syncOperation(input),
  );
}

/** syncVM without its notifications. */
async function syncOperation(input: SyncInput): Promise<SyncResult> {
  const operation = beginOperation('sync', syncInputSchema, input);
  const { targetName, vmName } = operation.options;
  // Runs started before the destination lock and partial files for added disks keep their old commands.
  const ownsDestination = patched('destination-lock');
  const target = new SyncTarget(operation, targetName ?? vmName);
  const incomplete = `; '${target.name}' stays marked incomplete until a sync finishes`;
  return operation.run({ afterStop: incomplete, afterFailure: () => (target.marked ? incomplete : '') }, () =>
    sync(operation, target, ownsDestination),
  );
}

async function sync(
  operation: Operation<SyncOptions>,
  target: SyncTarget,
  ownsDestination: boolean,
): Promise<SyncResult> {
  const { progress } = operation;
  progress.phase = 'preflight';
  const releaseLock = ownsDestination ? await holdDestinationLock(operation, target.name) : undefined;
  const setup = await syncSetup(operation, target, ownsDestination);
  const { inspection, files } = setup;
  const checkpoints = new SyncCheckpoints(operation, target.name, inspection, setup.target, files, setup.hashTool);
  await target.createAddedDisks(files);

  const { consistency, rangesRecopied } = await withFrozenSource(
    operation,
    sourceVm(inspection, files),
    async (frozen) => {
      for (const file of files) file.fileSize = frozen.sizes?.[file.sourcePath] ?? file.fileSize;
      await target.resizeToSource(files);
      await checkpoints.readChanges(files);
      return {
        consistency: frozen.consistency,
        rangesRecopied: await syncFiles(operation, files, setup.dataPath, setup.hashTool),
      };
    },
    () => checkpoints.createBeforeFreeze(),
  );

  progress.phase = 'defining';
  await target.placeFiles(files);
  await target.redefine(inspection.inactiveXml, setup.target, files);
  const checkpoint = await checkpoints.recordForNextSync(files);
  await releaseLock?.();

  progress.phase = 'done';
  return syncResult(operation, target, setup, { consistency, rangesRecopied, checkpoint });
}

function syncResult(
  operation: Operation<SyncOptions>,
  target: SyncTarget,
  setup: SyncSetup,
  outcome: { consistency: Consistency; rangesRecopied: number; checkpoint: string | undefined },
): SyncResult {
  const { files, hashTool, dataPath } = setup;
  const unfinished = setup.target.unfinishedOperation;
  return {
    ...operation.resultFields(),
    targetName: target.name,
    ...syncTotals(files, hashTool),
    blockSize: SYNC_BLOCK_SIZE,
    ...(outcome.checkpoint ? { checkpoint: outcome.checkpoint } : {}),
    hashTool,
    files: files.map(fileSyncResult),
    consistency: outcome.consistency,
    compression: dataPath.compression,
    transport: dataPath.transport,
    rangesRecopied: outcome.rangesRecopied,
    detachedDisks: setup.detachedDisks,
    ...(unfinished ? { completedUnfinished: unfinished } : {}),
  };
}
