import { CancellationScope } from '@temporalio/workflow';
import { cloneLogPaths } from '../domain/domain-xml';
import type { LiveMigrationOutcome } from '../domain/live-migration';
import { cloneInputSchema, type CloneOptions } from '../domain/schemas/clone-input';
import type { MigrateOptions } from '../domain/schemas/migrate-input';
import { ErrorCode, KvmCloneError } from '../errors';
import { cleanup, hostCalls, liveMigrations } from './activity-proxies';
import { cloneSetup, type CloneSetup } from './clone-preflight';
import { holdDestinationLock } from './destination-lock';
import { hostLabel } from './host-label';
import type { CutoverControl } from './migration-control';
import { retire } from './migration-cutover';
import type { Operation } from './operation';

/**
 * Live mode: libvirt's own live migration (`virsh migrate --live --copy-storage-all`),
 * for hosts whose libvirts may talk to each other over the direct route. The destination
 * is planned and checked as a clone's would be (the source's UUID and MACs kept, room,
 * names, machine, memory and CPUs), empty images are made there for libvirt to mirror
 * into, and once the guest runs on the destination the source is retired as in warm
 * mode. A failure or cancellation before then leaves the source running (libvirt resumes
 * it) and removes the images.
 */
export async function migrateLive(
  operation: Operation<MigrateOptions>,
  control: CutoverControl,
  uuid: string,
): Promise<LiveMigrationOutcome> {
  const { options } = operation;
  const newName = options.newName ?? options.vmName;
  const releaseLock = await holdDestinationLock(operation, newName);
  const setup = await cloneSetup(
    { options: cloneOptionsOf(options), warnings: operation.warnings, tag: operation.tag },
    newName,
    true,
  );
  const files = [...liveDisks(options.vmName, setup), ...logFiles(setup)];
  await control.waitUntilDue(options.syncInterval, async () => undefined);
  await prepareImages(operation, newName, uuid, files);
  control.progress.phase = 'cutover';
  const { source, destination, vmName, bandwidthLimit } = options;
  const outcome = await liveMigrations.liveMigrate({
    source,
    destination,
    vmName,
    newName,
    uuid,
    rewrite: setup.rewrite,
    ...(bandwidthLimit ? { bandwidthLimit } : {}),
  });
  control.record({
    kind: 'live',
    operationId: operation.operationId,
    bytesTransferred: outcome.bytesTransferred,
    seconds: outcome.seconds,
  });
  await releaseLock();
  // The guest runs on the destination: nothing before this may be undone, and its retirement must not be stopped.
  operation.compensations.clear();
  control.progress.phase = 'retiring-source';
  await CancellationScope.nonCancellable(() => retire(operation, uuid));
  return outcome;
}

/** The migration as a clone that keeps the source's identity, for the destination's checks; it starts there. */
function cloneOptionsOf(options: MigrateOptions): CloneOptions {
  const { source, destination, vmName, newName, destDir, parallel, timeout } = options;
  return cloneInputSchema.parse({
    source,
    destination,
    vmName,
    ...(newName ? { newName } : {}),
    ...(destDir ? { destDir } : {}),
    parallel,
    timeout,
    keepUuid: true,
    preserveMac: true,
    start: true,
  });
}

/**
 * The images libvirt mirrors into: one per disk, of its format and virtual size (a
 * backing chain arrives flattened). NVRAM and TPM state are files libvirt does not carry
 * in a storage migration, so a VM with them is refused (warm mode moves them).
 */
function liveDisks(vmName: string, setup: CloneSetup): { path: string; size: number; format: string }[] {
  const stateFiles = setup.files.filter((file) => file.role === 'nvram' || file.role === 'tpm');
  if (stateFiles.length > 0)
    throw new KvmCloneError(
      ErrorCode.MIGRATION_ERROR,
      `live mode cannot move '${vmName}': libvirt does not carry its ${[...new Set(stateFiles.map((file) => (file.role === 'tpm' ? 'TPM state' : 'NVRAM')))].join(' and ')} in a storage migration; use warm mode`,
      { vmName },
      { retryable: false },
    );
  return setup.files
    .filter((file) => file.role === 'disk')
    .map((file) => ({ path: file.destinationPath, size: file.virtualSize, format: file.format }));
}

/**
 * The guest's serial and console log files, made empty beforehand unless they exist (the
 * VM's earlier life on that host left them; qemu opens them as the definition says): a
 * failed migration then removes only the ones this operation created.
 */
function logFiles(setup: CloneSetup): { path: string; size: number; keepExisting: true }[] {
  const { inspection, destinationCheck, newName } = setup;
  return cloneLogPaths(inspection.inactiveXml, destinationCheck.destDir, newName).map((path) => ({
    path,
    size: 0,
    keepExisting: true,
  }));
}

/**
 * Creates the empty images and log files, which go again if the migration fails, unless
 * the destination holds a domain with the source's UUID: whatever state libvirt left it
 * in, the guest may live there now, so its files are kept and the failure says so.
 */
async function prepareImages(
  operation: Operation<MigrateOptions>,
  newName: string,
  uuid: string,
  disks: { path: string; size: number; format?: string; keepExisting?: boolean }[],
): Promise<void> {
  const { destination } = operation.options;
  // Until the call reports what it created, only the files it creates exclusively are the operation's.
  let paths = disks.filter((disk) => !disk.keepExisting).map((disk) => disk.path);
  operation.compensations.add(
    "remove the migration's images and log files",
    async () => {
      const there = await cleanup.recheckSource({ source: destination, vmName: newName, paths: [] });
      if (there.uuid === uuid)
        throw new KvmCloneError(
          ErrorCode.MIGRATION_ERROR,
          `'${newName}' with the source's UUID is defined on ${hostLabel(destination)} (${there.state}): check where the guest runs before you start either`,
          { vmName: newName },
          { retryable: false },
        );
      await cleanup.removeClone({ destination, paths, directories: [] });
    },
    `images may remain on ${hostLabel(destination)}: ${paths.join(', ')}`,
  );
  paths = (await hostCalls.prepareDisks({ destination, disks })).created;
}
