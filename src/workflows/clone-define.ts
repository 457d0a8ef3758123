import { CancellationScope } from '@temporalio/workflow';
import { backingChains } from '../domain/copied-file';
import { planReplacement, type ReplacementPlan } from '../domain/replacement';
import type { CloneOptions } from '../domain/schemas/clone-input';
import { failureInfo } from '../failures';
import { cleanup, finalizing, hostCalls } from './activity-proxies';
import type { CloneSetup } from './clone-preflight';
import { hostLabel } from './host-label';
import type { Operation } from './operation';

/** The VM a forced clone replaces, and where its files went. */
export interface Replacement {
  vmName: string;
  plan: ReplacementPlan;
}

/**
 * With force, the old VM steps aside, restorable, with a verified copy ready to take its
 * place: stopped, saved, its files in the clone's way moved, undefined. It goes for good
 * only once the clone is defined (see removeReplacedVm); until then a failure brings it back.
 */
export async function setAsideReplacedVm(
  operation: Operation<CloneOptions>,
  setup: CloneSetup,
  ownsDestination: boolean,
): Promise<Replacement | undefined> {
  const { destination } = operation.options;
  const replaced = setup.destinationCheck.replaced;
  if (!replaced) return undefined;
  if (!ownsDestination) {
    // Runs started before the set-aside: the old VM goes now, as it always did.
    await hostCalls.removeClone({ destination, vmName: replaced.vmName, paths: replaced.paths });
    return undefined;
  }
  const plan = planReplacement(
    replaced.paths,
    setup.files.map((file) => file.destinationPath),
    operation.tag,
  );
  const aside = { destination, vmName: replaced.vmName, moves: plan.moves };
  const movedFiles =
    plan.moves.length > 0 ? ` and its files set aside as ${plan.moves.map((move) => move.to).join(', ')}` : '';
  operation.compensations.add(
    'restore the replaced VM',
    () => cleanup.restoreDomain(aside),
    `the replaced VM '${replaced.vmName}' may be left undefined on ${hostLabel(destination)}: its definition is kept in the destination lock (replaced.xml)${movedFiles}`,
  );
  await hostCalls.setAsideDomain(aside);
  return { vmName: replaced.vmName, plan };
}

/** Gives the verified partial copies their final names and re-links (or flattens) their backing chains. */
export async function finalizeCopies(
  operation: Operation<CloneOptions>,
  setup: CloneSetup,
  ownsDestination: boolean,
): Promise<void> {
  const { destination, flattenBackingChain } = operation.options;
  const finalPaths = setup.files.map((file) => file.destinationPath);
  const renames = setup.files.map((file) => ({ from: file.partialPath, to: file.destinationPath }));
  operation.compensations.add(
    'remove copied files',
    // Only files this clone's renames made: a rename refused because a file was in the way must not make the cleanup remove that file.
    () =>
      ownsDestination
        ? cleanup.removeRenamedFiles({ destination, renames })
        : cleanup.removeClone({ destination, paths: finalPaths }),
    `copied files may remain on ${hostLabel(destination)}: ${finalPaths.join(', ')}`,
  );
  await finalizing.finalizeFiles({
    destination,
    renames,
    chains: backingChains(setup.files),
    flatten: flattenBackingChain,
    ...(setup.destinationCheck.pool ? { pool: setup.destinationCheck.pool } : {}),
  });
}

/** Defines the clone on the destination (and starts it if asked), with the record of the files it made. */
export async function defineTheClone(
  operation: Operation<CloneOptions>,
  setup: CloneSetup,
  ownsDestination: boolean,
): Promise<void> {
  const { options } = operation;
  const { source, destination, vmName } = options;
  const { newName, cloneUuid } = setup;
  operation.compensations.add(
    'undefine the clone',
    // Only the domain this clone defined: a define refused because another VM has the name must not remove that VM.
    () =>
      ownsDestination && cloneUuid
        ? cleanup.removeDefinedClone({ destination, vmName: newName, uuid: cloneUuid })
        : cleanup.removeClone({ destination, vmName: newName, paths: [] }),
    `'${newName}' may still be defined on ${hostLabel(destination)}`,
  );
  await hostCalls.defineClone({
    destination,
    sourceXml: setup.inspection.inactiveXml,
    rewrite: setup.rewrite,
    start: options.start,
    // Read on the worker at the define, so no password passes through history.
    graphicsPasswordsFrom: { source, vmName },
    // The clone's record: the files a later sync may write into (TPM state is vouched for by its directory; flattened layers are gone).
    operationId: operation.operationId,
    createdFiles: setup.files
      .filter((file) => file.role !== 'tpm' && !(options.flattenBackingChain && file.role === 'backing'))
      .map((file) => file.destinationPath),
  });
}

/**
 * The clone is defined, so the old VM is not coming back: its files and saved definition
 * go, whatever happens to the workflow now. What cannot be removed is a warning.
 */
export async function removeReplacedVm(operation: Operation<CloneOptions>, replacement: Replacement): Promise<void> {
  const { destination } = operation.options;
  const { vmName, plan } = replacement;
  await CancellationScope.nonCancellable(async () => {
    try {
      await cleanup.removeClone({ destination, paths: plan.removeAfterDefine });
    } catch (error) {
      operation.warnings.push(
        `the files of the replaced VM '${vmName}' could not all be removed (${failureInfo(error).message}): ${plan.removeAfterDefine.join(', ')}`,
      );
    }
    try {
      await cleanup.discardReplacedDomain({ destination, vmName });
    } catch (error) {
      operation.warnings.push(
        `the TPM state or saved definition of the replaced VM '${vmName}' could not be removed: ${failureInfo(error).message}`,
      );
    }
  });
}
