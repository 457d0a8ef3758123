import { executeChild, ParentClosePolicy } from '@temporalio/workflow';
import type { CloneResult } from '../domain/clone-result';
import { checkpointPrefix } from '../domain/change-tracking';
import { estimatedDowntime, nextStep, type MigrationPass } from '../domain/migration';
import type { MigrateOptions } from '../domain/schemas/migrate-input';
import { directoryOf } from '../domain/paths';
import { ErrorCode, KvmCloneError } from '../errors';
import { cleanup } from './activity-proxies';
import { cloneVM } from './clone-vm';
import { hostLabel } from './host-label';
import type { CutoverControl } from './migration-control';
import type { Operation } from './operation';
import { syncVM } from './sync-vm';

/**
 * The copies a migration makes, each a child workflow of its own (visible, with its own
 * history, in the Temporal UI): a live clone that keeps the source's UUID and MACs, then
 * checkpoint syncs. Once the clone exists, a failure removes it and the source's
 * checkpoints, so the source is left as it was.
 */
export class MigrationPasses {
  private count = 0;

  constructor(
    private readonly operation: Operation<MigrateOptions>,
    private readonly control: CutoverControl,
    readonly newName: string,
    private readonly sourceUuid: string,
  ) {}

  /** The first, full copy: defined on the destination, not started. */
  async initialCopy(): Promise<CloneResult> {
    const { options } = this.operation;
    const { source, destination, vmName, destDir } = options;
    const clone = await this.child('clone', (workflowId) =>
      executeChild(cloneVM, {
        workflowId,
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        args: [
          {
            ...this.dataPath(),
            newName: this.newName,
            ...(destDir ? { destDir } : {}),
            keepUuid: true,
            preserveMac: true,
            start: false,
          },
        ],
      }),
    );
    const files = clone.files.map((file) => file.destinationPath);
    const directories = clone.files
      .filter((file) => file.role === 'tpm')
      .map((file) => directoryOf(file.destinationPath));
    const copy = { destination, vmName: this.newName, uuid: this.sourceUuid };
    this.operation.compensations.add(
      'remove the copy',
      async () => {
        await cleanup.removeDefinedClone(copy);
        await cleanup.removeClone({ destination, paths: files, directories });
      },
      `the copy '${this.newName}' may remain on ${hostLabel(destination)}: ${files.join(', ')}`,
    );
    const prefix = checkpointPrefix(this.sourceUuid);
    this.operation.compensations.add(
      "remove the migration's checkpoints",
      () => cleanup.removeCheckpoints({ source, vmName, prefix, keep: [] }).then(() => undefined),
      `checkpoints named ${prefix}* may remain on '${vmName}' on ${hostLabel(source)}`,
    );
    return clone;
  }

  /** Syncs until the last sync took no longer than the downtime allowed, or an operator asks for the cutover. */
  async converge(): Promise<void> {
    const { maxDowntime, maxPasses, vmName } = this.operation.options;
    const from = this.control.progress.passes.length;
    for (;;) {
      const next = nextStep(this.control.progress.passes.slice(from), {
        maxDowntime,
        maxPasses,
        cutoverRequested: this.control.cutoverRequested,
      });
      if (next.step === 'cutover') return;
      if (next.step === 'give-up')
        throw new KvmCloneError(
          ErrorCode.MIGRATION_ERROR,
          `the migration of '${vmName}' did not converge: ${next.reason}; raise maxDowntime, or send a cutover signal`,
          { vmName },
          { retryable: false },
        );
      await this.sync('sync');
    }
  }

  /** Whether the cutover may go ahead: asked for, or the last sync took no longer than the downtime allowed. */
  converged(): boolean {
    const estimate = estimatedDowntime(this.control.progress.passes) ?? Infinity;
    return this.control.cutoverRequested || estimate <= this.operation.options.maxDowntime;
  }

  /** One checkpoint sync of the copy: `final` while the source is paused. */
  async sync(kind: 'sync' | 'final'): Promise<void> {
    this.control.progress.phase = kind === 'final' ? 'cutover' : 'syncing';
    await this.child(kind, (workflowId) =>
      executeChild(syncVM, {
        workflowId,
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        args: [{ ...this.dataPath(), targetName: this.newName, checkpoint: true, preserveMac: true }],
      }),
    );
  }

  private async child<R extends { bytesTransferred: number; durationSeconds: number; warnings: string[] }>(
    kind: Exclude<MigrationPass['kind'], 'live'>,
    run: (workflowId: string) => Promise<R>,
  ): Promise<R> {
    const workflowId = `${this.operation.operationId}-${++this.count}-${kind}`;
    const { progress } = this.operation;
    progress.phase = 'copying';
    progress.pass = { kind, operationId: workflowId };
    const result = await run(workflowId).finally(() => delete progress.pass);
    this.control.record({
      kind,
      operationId: workflowId,
      bytesTransferred: result.bytesTransferred,
      seconds: result.durationSeconds,
    });
    for (const warning of result.warnings)
      if (!this.operation.warnings.includes(warning)) this.operation.warnings.push(warning);
    return result;
  }

  /** What every child copies with: the migration's own hosts, VM and data path. */
  private dataPath() {
    const { source, destination, vmName, parallel, compress, verify, bandwidthLimit, direct, timeout } =
      this.operation.options;
    return {
      source,
      destination,
      vmName,
      parallel,
      compress,
      verify,
      timeout,
      ...(bandwidthLimit ? { bandwidthLimit } : {}),
      ...(direct !== undefined ? { direct } : {}),
    };
  }
}
