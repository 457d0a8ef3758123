import { isCancellation } from '@temporalio/workflow';
import type { SourceInspection } from '../activities/inspect-source';
import type { TargetInspection } from '../activities/inspect-target';
import { SYNC_BLOCK_SIZE, type BlockHashTool } from '../domain/block-delta';
import { checkpointPrefix, planChangeTracking, type ChangeTrackingPlan } from '../domain/change-tracking';
import { parseDomainXml } from '../domain/domain-xml';
import type { SyncOptions } from '../domain/schemas/sync-input';
import type { SyncedFile } from '../domain/sync-plan';
import { failureInfo } from '../failures';
import { cleanup, optionalCalls } from './activity-proxies';
import { hostLabel } from './host-label';
import type { Operation } from './operation';

/** A disk's top image, the file a checkpoint's bitmap covers. */
function isTopImage(file: SyncedFile): boolean {
  return file.role === 'disk' && file.depth === 0;
}

/**
 * Change tracking with libvirt checkpoints (`checkpoint: true`): a sync of a running source
 * creates a checkpoint whose dirty bitmaps record every write after it, reads the bitmaps
 * of the checkpoint the previous sync left, and records its own on the target for the next
 * sync. Every step may fail without failing the sync: it says why, and the sync hashes.
 */
export class SyncCheckpoints {
  private readonly plan: ChangeTrackingPlan = { bitmapTargets: [], trackedTargets: [], warnings: [] };
  private readonly sourceUuid: string | undefined;
  /** The target's checkpoints on the source are named with this, so a sync finds (and removes) its own. */
  private readonly prefix: string;
  private readonly newCheckpoint: string;
  private created = false;

  constructor(
    private readonly operation: Operation<SyncOptions>,
    private readonly targetName: string,
    inspection: SourceInspection,
    private readonly target: TargetInspection,
    files: readonly SyncedFile[],
    hashTool: BlockHashTool,
  ) {
    const { options } = operation;
    this.sourceUuid = parseDomainXml(inspection.inactiveXml).uuid;
    this.prefix = checkpointPrefix(
      parseDomainXml(target.inactiveXml).uuid ?? `${hostLabel(options.destination)}/${targetName}`,
    );
    this.newCheckpoint = `${this.prefix}${Date.now()}`;
    if (!options.checkpoint) return;
    this.plan = planChangeTracking({
      sourceRunning: inspection.state !== 'shut off',
      sourceUuid: this.sourceUuid,
      targetName,
      files,
      record: target.checkpoint,
      fingerprints: target.fingerprints,
    });
    operation.warnings.push(...this.plan.warnings);
    // A full re-copy or a copy without hashing reads no bitmap, but still leaves a checkpoint for the next sync.
    if (!options.deltaOnly || hashTool === 'none') this.plan = { ...this.plan, trackedTargets: [] };
  }

  /**
   * Creates the new checkpoint before the freeze: every write after this instant is in its bitmaps, so the next sync
   * misses none.
   */
  async createBeforeFreeze(): Promise<void> {
    if (this.plan.bitmapTargets.length === 0 || !this.sourceUuid) return;
    const { source, vmName } = this.operation.options;
    const { prefix } = this;
    const keep = this.target.checkpoint ? [this.target.checkpoint.name] : [];
    this.operation.compensations.add('remove the new checkpoint', () =>
      cleanup.removeCheckpoints({ source, vmName, prefix, keep }).then(() => undefined),
    );
    this.created = await this.optional('create a checkpoint for the next sync', () =>
      optionalCalls.createCheckpoint({
        source,
        vmName,
        name: this.newCheckpoint,
        bitmapTargets: this.plan.bitmapTargets,
      }),
    );
  }

  /** Reads what the previous checkpoint's bitmaps say changed into each tracked disk's `tracked`. */
  async readChanges(files: readonly SyncedFile[]): Promise<void> {
    const since = this.plan.since;
    if (!since || this.plan.trackedTargets.length === 0) return;
    const { source, vmName } = this.operation.options;
    const disks = files.filter((file) => isTopImage(file) && this.plan.trackedTargets.includes(file.target));
    await this.optional(`read checkpoint ${since}'s bitmaps`, async () => {
      const tracked = await optionalCalls.trackChanges({
        source,
        vmName,
        since,
        disks: disks.map((file) => ({ target: file.target, path: file.sourcePath, fileSize: file.fileSize })),
        blockSize: SYNC_BLOCK_SIZE,
        tag: this.operation.tag,
      });
      if ('unavailable' in tracked) {
        this.operation.warnings.push(`${tracked.unavailable}; changed blocks are found by hashing`);
        return;
      }
      const changes = new Map(Object.entries(tracked.disks));
      for (const file of files)
        if (isTopImage(file) && changes.has(file.target)) file.tracked = changes.get(file.target);
    });
  }

  /**
   * Records the new checkpoint on the target and removes the spent ones; returns the checkpoint the next sync can use.
   */
  async recordForNextSync(files: readonly SyncedFile[]): Promise<string | undefined> {
    if (!this.created || !this.sourceUuid) return undefined;
    const { source, destination, vmName } = this.operation.options;
    const { targetName, newCheckpoint, sourceUuid, prefix } = this;
    const paths = files
      .filter((file) => this.plan.bitmapTargets.includes(file.target) && isTopImage(file))
      .map((file) => file.destinationPath);
    const recorded = await this.optional(`record checkpoint ${newCheckpoint} on '${targetName}'`, () =>
      optionalCalls.recordCheckpoint({ destination, targetName, checkpoint: newCheckpoint, sourceUuid, paths }),
    );
    // The old checkpoints of this target are spent; an unrecorded new one is useless.
    await this.optional('remove spent checkpoints', () =>
      optionalCalls.removeCheckpoints({ source, vmName, prefix, keep: recorded ? [newCheckpoint] : [] }),
    );
    return recorded ? newCheckpoint : undefined;
  }

  /** Runs a step the sync can do without: a failure is a warning, and the sync hashes instead. */
  private async optional(what: string, step: () => Promise<unknown>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      if (isCancellation(error)) throw error;
      this.operation.warnings.push(
        `could not ${what} (${failureInfo(error).message}); changed blocks are found by hashing`,
      );
      return false;
    }
  }
}
