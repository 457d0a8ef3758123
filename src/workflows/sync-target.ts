import { patched } from '@temporalio/workflow';
import type { TargetInspection } from '../activities/inspect-target';
import { backingChains } from '../domain/copied-file';
import type { SyncOptions } from '../domain/schemas/sync-input';
import { addedDiskRenames, addedFiles, type SyncedFile } from '../domain/sync-plan';
import { syncRewrite } from '../domain/sync-rewrite';
import { cleanup, hostCalls, preflightCalls } from './activity-proxies';
import { hostLabel } from './host-label';
import type { Operation } from './operation';

/**
 * What a sync does to its target on the destination: inspect it (which marks it incomplete
 * until a sync finishes), create added disks, fit file sizes, put the synced files in place
 * and redefine it.
 *
 * Runs started before sync had activities of its own call the clone's for the same work
 * (`removeClone`, `finalizeFiles`, `defineClone` with `redefine`); activity types are in
 * their histories, so they keep calling them: `patched('sync-vocabulary')` decides, once
 * per run, before the operation's timer starts.
 */
export class SyncTarget {
  /** Whether the target is marked incomplete: from then on every failure says so. */
  marked = false;
  private readonly ownActivities = patched('sync-vocabulary');

  constructor(
    private readonly operation: Operation<SyncOptions>,
    readonly name: string,
  ) {}

  async inspect(): Promise<TargetInspection> {
    const { destination } = this.operation.options;
    const target = await preflightCalls.inspectTarget({
      destination,
      targetName: this.name,
      operationId: this.operation.operationId,
    });
    this.marked = true;
    if (target.unfinishedOperation)
      this.operation.warnings.push(`completing the interrupted sync ${target.unfinishedOperation}`);
    return target;
  }

  /** Creates the files of disks the target lacks (under partial names); they go if the sync fails. */
  async createAddedDisks(files: readonly SyncedFile[]): Promise<void> {
    const { destination } = this.operation.options;
    const added = files.filter((file) => file.action === 'added');
    if (added.length === 0) return;
    // Only what this sync creates: the added disks' partial files (their final names are taken at the end).
    const paths = added.map((file) => file.writePath);
    this.operation.compensations.add(
      'remove the files of added disks',
      () =>
        this.ownActivities ? cleanup.removeFiles({ destination, paths }) : cleanup.removeClone({ destination, paths }),
      `files of added disks may remain on ${hostLabel(destination)}: ${paths.join(', ')}`,
    );
    await hostCalls.prepareDisks({
      destination,
      disks: added.map((file) => ({ path: file.writePath, size: file.fileSize })),
    });
  }

  /** Gives each target file its source's size, as measured last (after the freeze, for a running source). */
  async resizeToSource(files: readonly SyncedFile[]): Promise<void> {
    const differing = files.filter((file) => file.destinationSize !== file.fileSize);
    if (differing.length === 0) return;
    await hostCalls.resizeFiles({
      destination: this.operation.options.destination,
      files: differing.map((file) => ({ path: file.writePath, size: file.fileSize })),
    });
    for (const file of differing) {
      file.destinationSize = file.fileSize;
      if (file.action === 'updated') file.action = 'resized';
    }
  }

  /** Gives added disks their names in the target, and points synced layers at the target's own backing files. */
  async placeFiles(files: readonly SyncedFile[]): Promise<void> {
    const { destination } = this.operation.options;
    const renames = addedDiskRenames(files);
    if (renames.length > 0) {
      // Only files this sync's renames made: a rename refused because a file was in the way must not make the cleanup remove that file.
      this.operation.compensations.add(
        'remove the renamed files of added disks',
        () => cleanup.removeRenamedFiles({ destination, renames }),
        `files of added disks may remain on ${hostLabel(destination)}: ${renames.map((rename) => rename.to).join(', ')}`,
      );
    }
    const chains = backingChains(files);
    if (!this.ownActivities) {
      await hostCalls.finalizeFiles({ destination, renames, chains, flatten: false });
      return;
    }
    if (renames.length > 0) await hostCalls.renameAddedDisks({ destination, renames });
    if (chains.length > 0) await hostCalls.relinkBackingChains({ destination, chains });
  }

  /** Redefines the target as the source is now, keeping its identity; only while it is the domain inspected. */
  async redefine(sourceXml: string, target: TargetInspection, files: readonly SyncedFile[]): Promise<void> {
    const { source, destination, vmName, preserveMac } = this.operation.options;
    const definition = {
      destination,
      sourceXml,
      rewrite: syncRewrite({
        targetName: this.name,
        preserveMac,
        sourceXml,
        targetXml: target.inactiveXml,
        files,
        random: Math.random,
      }),
      // Read on the worker at the define, so no password passes through history.
      graphicsPasswordsFrom: { source, vmName },
      operationId: this.operation.operationId,
    };
    if (this.ownActivities) await hostCalls.redefineTarget({ ...definition, addedFiles: addedFiles(files) });
    else await hostCalls.defineClone({ ...definition, start: false, redefine: true, createdFiles: addedFiles(files) });
  }
}
