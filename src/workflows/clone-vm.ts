import { patched } from '@temporalio/workflow';
import type { CloneResult } from '../domain/clone-result';
import { cloneInputSchema, type CloneInput, type CloneOptions } from '../domain/schemas/clone-input';
import { cleanup, hostCalls } from './activity-proxies';
import { copyFiles, type CloneCopy } from './clone-copy';
import { defineTheClone, finalizeCopies, removeReplacedVm, setAsideReplacedVm } from './clone-define';
import { cloneSetup, dryRunPlan, type CloneSetup } from './clone-preflight';
import { copyOfUnchangedSource } from './clone-source';
import { holdDestinationLock } from './destination-lock';
import { sourceVm, withFrozenSource } from './frozen-source';
import { hostLabel } from './host-label';
import { notifiedOperation, notifyOf, withNotifications } from './notifications';
import { beginOperation, type Operation } from './operation';

/**
 * Clones a VM from one host to another. Preflight checks both hosts before any byte
 * moves; a running source is snapshotted so its disks hold still; data ranges are copied
 * in parallel and verified by digests taken on each host; the rewritten domain is
 * defined on the destination. On failure, cancellation or timeout, every change is
 * undone in reverse: the source is merged back and the destination cleaned up; an undo
 * that fails makes the failure say what it left (1200, see cleanup-report.ts).
 *
 * The operation holds a lock on its new name on the destination from preflight to the
 * end, so two clones to one name never interleave, whatever their workflow ids. It
 * chooses its clone's UUID, and defineClone adopts no domain with another one. With force,
 * the old VM is set aside (stopped, saved, its colliding files moved, undefined) only
 * once the copy is verified, brought back if anything fails before the clone is defined,
 * and its files removed only after.
 */
export async function cloneVM(input: CloneInput): Promise<CloneResult> {
  return withNotifications(
    notifyOf(input),
    notifiedOperation('clone', input, input.newName ?? `${input.vmName}_clone`),
    () => cloneOperation(input),
  );
}

/** cloneVM without its notifications. */
async function cloneOperation(input: CloneInput): Promise<CloneResult> {
  const operation = beginOperation('clone', cloneInputSchema, input);
  const newName = operation.options.newName ?? `${operation.options.vmName}_clone`;
  // Runs started before the destination lock, the chosen UUID and force's new order keep their old commands.
  const ownsDestination = patched('destination-lock');
  const afterStop = '; the destination was cleaned up and the source left as it was';
  return operation.run({ afterStop }, () => clone(operation, newName, ownsDestination));
}

async function clone(
  operation: Operation<CloneOptions>,
  newName: string,
  ownsDestination: boolean,
): Promise<CloneResult> {
  const { options, progress } = operation;
  progress.phase = 'preflight';
  const holdsLock = ownsDestination && !options.dryRun;
  const releaseLock = holdsLock ? await holdDestinationLock(operation, newName) : undefined;
  const setup = await cloneSetup(operation, newName, ownsDestination);
  if (options.dryRun) {
    const plan = await dryRunPlan(operation, setup);
    return cloneResult(operation, setup, {
      files: [],
      bytesResumed: 0,
      rangesRecopied: 0,
      consistency: plan.consistency,
      plan,
    });
  }

  await preparePartialCopies(operation, setup);
  const copied = await withFrozenSource(operation, sourceVm(setup.inspection, setup.files), async (frozen) => ({
    ...(await copyOfUnchangedSource(operation, setup, frozen.consistency, () =>
      copyFiles(operation, setup.files, setup.dataPath),
    )),
    consistency: frozen.consistency,
  }));

  progress.phase = 'defining';
  const replacement = await setAsideReplacedVm(operation, setup, ownsDestination);
  await finalizeCopies(operation, setup, ownsDestination);
  await defineTheClone(operation, setup, ownsDestination);
  if (replacement) await removeReplacedVm(operation, replacement);
  await releaseLock?.();

  progress.phase = 'done';
  const replaced = setup.destinationCheck.replaced;
  return cloneResult(operation, setup, { ...copied, ...(replaced ? { replaced: replaced.vmName } : {}) });
}

/** Creates the partial copies, sparse and at their full size; they and the TPM directory go if the clone fails. */
async function preparePartialCopies(operation: Operation<CloneOptions>, setup: CloneSetup): Promise<void> {
  const { destination } = operation.options;
  const partialPaths = setup.files.map((file) => file.partialPath);
  const createdDirectories = setup.destinationCheck.tpmDir ? [setup.destinationCheck.tpmDir] : [];
  operation.compensations.add(
    'remove partial copies',
    () => cleanup.removeClone({ destination, paths: partialPaths, directories: createdDirectories }),
    `partial copies may remain on ${hostLabel(destination)}: ${[...partialPaths, ...createdDirectories].join(', ')}`,
  );
  await hostCalls.prepareDisks({
    destination,
    disks: setup.files.map((file) => ({ path: file.partialPath, size: file.fileSize })),
  });
}

/** What the clone did, or for a dry run would do. */
type CloneOutcome = CloneCopy & Pick<CloneResult, 'consistency' | 'replaced' | 'plan'>;

function cloneResult(operation: Operation<CloneOptions>, setup: CloneSetup, outcome: CloneOutcome): CloneResult {
  const { options } = operation;
  const { files, bytesResumed, rangesRecopied, consistency, replaced, plan } = outcome;
  return {
    ...operation.resultFields(),
    dryRun: options.dryRun,
    newName: setup.newName,
    bytesTransferred: files.reduce((sum, file) => sum + file.bytesTransferred, 0),
    bytesSkippedAsHoles: files.reduce((sum, file) => sum + file.bytesSkippedAsHoles, 0),
    bytesResumed,
    rangesRecopied,
    files,
    consistency,
    compression: setup.dataPath.compression,
    transport: setup.dataPath.transport,
    ...(replaced ? { replaced } : {}),
    ...(plan ? { plan } : {}),
    started: options.start && !options.dryRun,
  };
}
