import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type TLSConfig,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import type { TransferProgress } from '../activities/transfer-range';
import { acrossServerOutages } from '../temporal/server-outage';
import { ErrorCode, KvmCloneError } from '../errors';
import { failureInfo } from '../failures';
import type { CloneResult } from '../domain/clone-result';
import { cloneInputSchema, type CloneInput } from '../domain/schemas/clone-input';
import { validate } from '../domain/schemas/validate';
import { DEFAULT_TASK_QUEUE } from '../task-queue';
import type { cloneVM } from '../workflows/clone-vm';
import type { syncVM } from '../workflows/sync-vm';
import type { migrateVM } from '../workflows/migrate-vm';
import type { SyncProgress } from '../activities/sync-range';
import type { SyncResult } from '../domain/sync-result';
import { syncInputSchema, type SyncInput } from '../domain/schemas/sync-input';
import type { MigrateResult } from '../domain/migration';
import { migrateInputSchema, type MigrateInput } from '../domain/schemas/migrate-input';
import {
  cutoverSignal,
  holdCutoverSignal,
  migrationQuery,
  type MigrationProgress,
} from '../workflows/migration-control';
import { progressQuery, type OperationProgress } from '../workflows/progress';
import { checkedCutoverTime, requireCutoverWithinTimeout } from './cutover-time';
import { withInFlightBytes, type InFlightTransfer } from './in-flight-progress';
import { cloneOperationId, migrateOperationId, syncOperationId } from './operation-id';
import {
  KvmCloneSchedules,
  type CreateScheduleOptions,
  type ScheduleDetails,
  type ScheduleRun,
  type ScheduleRunResult,
  type ScheduleSummary,
} from './schedules';
import {
  operationKind,
  operationsQuery,
  type ListOperationsOptions,
  type OperationStatus,
  type OperationSummary,
} from './operations';

export interface KvmCloneClientOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  /** `true` for TLS with the system's CAs, or a private CA and a client certificate (mTLS). */
  tls?: TLSConfig | boolean;
  /** An API key (Temporal Cloud); implies TLS. */
  apiKey?: string;
}

/** How long status() waits for a worker to answer the progress query. */
const PROGRESS_QUERY_TIMEOUT_MS = 5_000;

/** Starts and follows kvm-clone operations on a Temporal cluster, for services and the CLI. */
export class KvmCloneClient {
  constructor(
    readonly temporal: Client,
    readonly taskQueue: string = DEFAULT_TASK_QUEUE,
  ) {}

  static async connect(options: KvmCloneClientOptions = {}): Promise<KvmCloneClient> {
    const connection = await Connection.connect({
      address: options.address ?? '127.0.0.1:7233',
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    });
    return new KvmCloneClient(new Client({ connection, namespace: options.namespace ?? 'default' }), options.taskQueue);
  }

  /** Validates the input here, so a bad field fails fast with its code, then starts the clone. */
  async startClone(input: CloneInput): Promise<WorkflowHandle<typeof cloneVM>> {
    const options = validate(cloneInputSchema, input, 'clone input');
    const workflowId = cloneOperationId(options.source, options.vmName, options.destination, options.newName);
    return this.startOnce<typeof cloneVM>('cloneVM', workflowId, input, () => {
      const what = `a clone of '${options.vmName}' to the same destination and name`;
      return new KvmCloneError(ErrorCode.CLONE_ERROR, `${what} is already running (operation ${workflowId})`, {
        operationId: workflowId,
      });
    });
  }

  /** Validates the input, then starts a sync; a sync into the same target already running is refused. */
  async startSync(input: SyncInput): Promise<WorkflowHandle<typeof syncVM>> {
    const options = validate(syncInputSchema, input, 'sync input');
    const targetName = options.targetName ?? options.vmName;
    const workflowId = syncOperationId(options.destination, targetName);
    return this.startOnce<typeof syncVM>('syncVM', workflowId, input, () => {
      const what = `a sync into '${targetName}'`;
      return new KvmCloneError(ErrorCode.SYNC_ERROR, `${what} is already running (operation ${workflowId})`, {
        operationId: workflowId,
      });
    });
  }

  /**
   * Validates the input, then starts a warm migration; a second migration of the same source VM, to
   * whichever destination, is refused with 1206 while one runs. A cutoverAt after the timeout is 1304.
   */
  async startMigrate(input: MigrateInput): Promise<WorkflowHandle<typeof migrateVM>> {
    const options = validate(migrateInputSchema, input, 'migrate input');
    requireCutoverWithinTimeout(options);
    const workflowId = migrateOperationId(options.source, options.vmName);
    return this.startOnce<typeof migrateVM>('migrateVM', workflowId, input, () => {
      const what = `a migration of '${options.vmName}'`;
      return new KvmCloneError(ErrorCode.MIGRATION_ERROR, `${what} is already running (operation ${workflowId})`, {
        operationId: workflowId,
      });
    });
  }

  /** Operation ids are derived from what an operation writes, so a second start of the same one is refused. */
  private async startOnce<W extends typeof cloneVM | typeof syncVM | typeof migrateVM>(
    workflowType: 'cloneVM' | 'syncVM' | 'migrateVM',
    workflowId: string,
    input: Parameters<W>[0],
    alreadyRunning: () => KvmCloneError,
  ): Promise<WorkflowHandle<W>> {
    try {
      return await this.temporal.workflow.start<W>(workflowType, {
        taskQueue: this.taskQueue,
        workflowId,
        args: [input] as Parameters<W>,
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw alreadyRunning();
      throw error;
    }
  }

  /** Starts a sync and waits for its result; a failure is thrown as a KvmCloneError. */
  async sync(input: SyncInput): Promise<SyncResult> {
    const handle = await this.startSync(input);
    return this.result<SyncResult>(handle.workflowId);
  }

  /** Starts a clone and waits for its result; a failure is thrown as a KvmCloneError. */
  async clone(input: CloneInput): Promise<CloneResult> {
    const handle = await this.startClone(input);
    return this.result<CloneResult>(handle.workflowId);
  }

  /**
   * Starts a migration and waits for its result, which may take hours when its cutover waits for a time or a
   * `cutover` signal; a failure is thrown as a KvmCloneError.
   */
  async migrate(input: MigrateInput): Promise<MigrateResult> {
    const handle = await this.startMigrate(input);
    return this.result<MigrateResult>(handle.workflowId);
  }

  /**
   * Lets a running migration cut over: now, converged or not (no `at`), or not before `at` (ISO 8601 with a zone),
   * keeping the copy in step until then. Ends a hold. A malformed time is refused here with 1007: the workflow could
   * only ignore it, since a signal cannot be refused. Another kind of operation is 1007, one that has ended 1206, and an
   * unknown id 1203.
   */
  async cutover(operationId: string, at?: string): Promise<void> {
    const request = at === undefined ? undefined : { at: checkedCutoverTime(at, 'cutover time') };
    const handle = await this.runningMigration(operationId, 'cut over');
    try {
      await (request ? handle.signal(cutoverSignal, request) : handle.signal(cutoverSignal));
    } catch (error) {
      throw toKvmCloneError(error, operationId);
    }
  }

  /** Holds a running migration's cutover until a `cutover` signal, keeping the copy in step meanwhile. */
  async holdCutover(operationId: string): Promise<void> {
    const handle = await this.runningMigration(operationId, 'hold');
    try {
      await handle.signal(holdCutoverSignal);
    } catch (error) {
      throw toKvmCloneError(error, operationId);
    }
  }

  /** A migration's passes so far, its phase, the downtime a cutover would cost now, and whether it is held. */
  async migration(operationId: string): Promise<MigrationProgress> {
    const handle = this.temporal.workflow.getHandle(operationId);
    try {
      const description = await handle.describe();
      requireMigration(operationId, description.type);
      return await handle.query(migrationQuery);
    } catch (error) {
      throw toKvmCloneError(error, operationId);
    }
  }

  /** The handle of a running migration, for a signal: another operation, or one that has ended, is refused. */
  private async runningMigration(operationId: string, verb: string): Promise<WorkflowHandle<typeof migrateVM>> {
    const handle = this.temporal.workflow.getHandle<typeof migrateVM>(operationId);
    try {
      const { type, status } = await handle.describe();
      requireMigration(operationId, type);
      if (status.name !== 'RUNNING')
        throw new KvmCloneError(
          ErrorCode.MIGRATION_ERROR,
          `migration ${operationId} has already ended (${status.name}); there is nothing to ${verb}`,
          { operationId, state: status.name },
        );
      return handle;
    } catch (error) {
      throw toKvmCloneError(error, operationId);
    }
  }

  async result<T = CloneResult>(operationId: string): Promise<T> {
    try {
      // A server restart or upgrade while the operation runs is waited out: the operation goes on.
      return (await acrossServerOutages(() => this.temporal.workflow.getHandle(operationId).result())) as T;
    } catch (error) {
      throw toKvmCloneError(error, operationId);
    }
  }

  /**
   * Progress from real bytes: the workflow's count of completed ranges plus the bytes
   * that running transfer activities last reported in their heartbeats.
   */
  async progress(operationId: string): Promise<OperationProgress> {
    const handle = this.temporal.workflow.getHandle(operationId);
    try {
      const [progress, description] = await Promise.all([handle.query(progressQuery), handle.describe()]);
      const transfers: InFlightTransfer[] = [];
      for (const activity of description.raw.pendingActivities ?? []) {
        const payload = activity.heartbeatDetails?.payloads?.[0];
        const kind = activity.activityType?.name;
        if ((kind !== 'transferRange' && kind !== 'syncRange') || !payload) continue;
        const heartbeat = defaultPayloadConverter.fromPayload<
          Partial<TransferProgress> & Partial<SyncProgress> & { target?: unknown }
        >(payload);
        // A sync's progress counts bytes compared, a clone's bytes copied.
        const bytesDone = kind === 'syncRange' ? (heartbeat.bytesCompared ?? 0) : (heartbeat.bytesDone ?? 0);
        transfers.push({ bytesDone, ...(typeof heartbeat.target === 'string' ? { target: heartbeat.target } : {}) });
      }
      if (progress.pass) return await this.passProgress(progress, progress.pass);
      return withInFlightBytes(progress, transfers);
    } catch (error) {
      throw toKvmCloneError(error, operationId);
    }
  }

  /** A migration's progress is its running pass's (a clone or a sync), or its own once that pass has ended. */
  private async passProgress(
    migration: OperationProgress,
    pass: NonNullable<OperationProgress['pass']>,
  ): Promise<OperationProgress> {
    return this.progress(pass.operationId).then(
      (child): OperationProgress => ({ ...child, pass }),
      (): OperationProgress => ({ ...migration, disks: [], bytesTotal: 0, bytesDone: 0 }),
    );
  }

  /** Operations on this client's task queue, newest first. */
  async listOperations(options: ListOperationsOptions = {}): Promise<OperationSummary[]> {
    const limit = options.limit ?? 50;
    const operations: OperationSummary[] = [];
    const query = operationsQuery(this.taskQueue, options.filter ?? 'active');
    try {
      for await (const execution of this.temporal.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
        operations.push(summaryOf(execution));
        if (operations.length >= limit) break;
      }
    } catch (error) {
      // The SDK's message is only "Failed to list workflows"; the server's reason is in the cause.
      const reason = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      throw new KvmCloneError(
        ErrorCode.CONNECTION_ERROR,
        `cannot list operations (${query})${reason}`,
        { query },
        { cause: error },
      );
    }
    return operations.sort((a, b) => b.startTime.localeCompare(a.startTime));
  }

  /**
   * One operation: its state, its progress while it runs, and its result or error once
   * it has ended. An unknown id is code 1203.
   */
  async status(operationId: string): Promise<OperationStatus> {
    const handle = this.temporal.workflow.getHandle(operationId);
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (error) {
      throw toKvmCloneError(error, operationId);
    }
    const status: OperationStatus = summaryOf(description);
    if (status.state === 'RUNNING') {
      try {
        // A migration also tells its passes, whether it is held, and the downtime a cutover would cost now.
        const [progress, migration] = await this.temporal.connection.withDeadline(
          Date.now() + PROGRESS_QUERY_TIMEOUT_MS,
          () =>
            Promise.all([
              this.progress(operationId),
              description.type === 'migrateVM' ? handle.query(migrationQuery) : undefined,
            ]),
        );
        status.progress = progress;
        if (migration) status.migration = migration;
      } catch (error) {
        status.progressUnavailable = `no worker answered the progress query (${error instanceof Error ? error.message : String(error)})`;
      }
    } else if (status.state === 'COMPLETED') {
      status.result = await this.result<NonNullable<OperationStatus['result']>>(operationId);
    } else {
      const error = await this.result(operationId).then(
        () => undefined,
        (failure: unknown) => failureInfo(failure),
      );
      if (error) status.error = error;
    }
    return status;
  }

  /** Asks a running operation to stop; it cleans up the destination before it ends. */
  async cancel(operationId: string): Promise<void> {
    const handle = this.temporal.workflow.getHandle(operationId);
    try {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') {
        throw new KvmCloneError(
          ErrorCode.GENERAL_ERROR,
          `operation ${operationId} has already ended (${status.name}); there is nothing to cancel`,
          {
            operationId,
            state: status.name,
          },
        );
      }
      await handle.cancel();
    } catch (error) {
      throw toKvmCloneError(error, operationId);
    }
  }

  /** Recurring syncs or clones as a Temporal Schedule on this client's task queue (overlap: skip by default). */
  async createSchedule(options: CreateScheduleOptions): Promise<{ name: string }> {
    return this.schedules().create(options);
  }

  async listSchedules(): Promise<ScheduleSummary[]> {
    return this.schedules().list();
  }

  /**
   * A schedule's policy, counters (runs taken, skipped as overlapping), next run times, and recent runs with their
   * outcomes.
   */
  async describeSchedule(name: string): Promise<ScheduleDetails> {
    return this.schedules().describe(name, (run) => this.runOutcome(run));
  }

  async pauseSchedule(name: string, note?: string): Promise<void> {
    await this.schedules().pause(name, note);
  }

  async unpauseSchedule(name: string, note?: string): Promise<void> {
    await this.schedules().unpause(name, note);
  }

  /** Runs the schedule's action now, under its overlap policy (a run on top of a running one is skipped). */
  async triggerSchedule(name: string): Promise<void> {
    await this.schedules().trigger(name);
  }

  async deleteSchedule(name: string): Promise<void> {
    await this.schedules().delete(name);
  }

  private schedules(): KvmCloneSchedules {
    return new KvmCloneSchedules(this.temporal, this.taskQueue);
  }

  private async runOutcome(run: ScheduleRun): Promise<Omit<ScheduleRunResult, keyof ScheduleRun>> {
    const handle = this.temporal.workflow.getHandle(run.operationId, run.runId);
    try {
      const state = (await handle.describe()).status.name;
      if (state === 'RUNNING') return { state };
      if (state === 'COMPLETED') {
        const result = (await handle.result()) as CloneResult | SyncResult;
        return {
          state,
          result: {
            success: result.success,
            durationSeconds: result.durationSeconds,
            bytesTransferred: result.bytesTransferred,
            warnings: result.warnings,
          },
        };
      }
      const error = await handle.result().then(
        () => undefined,
        (failure: unknown) => failureInfo(toKvmCloneError(failure, run.operationId)),
      );
      return { state, ...(error ? { error } : {}) };
    } catch (error) {
      return { state: 'UNKNOWN', error: failureInfo(toKvmCloneError(error, run.operationId)) };
    }
  }

  async close(): Promise<void> {
    await this.temporal.connection.close();
  }
}

/** Only a migration takes the cutover signals and answers the migration query. */
function requireMigration(operationId: string, workflowType: string): void {
  if (workflowType === 'migrateVM') return;
  const kind = operationKind(workflowType);
  throw new KvmCloneError(
    ErrorCode.VALIDATION_ERROR,
    `operation ${operationId} is ${kind === 'other' ? `a ${workflowType} workflow` : `a ${kind}`}, not a migration; only a migration has a cutover`,
    { operationId, workflowType },
  );
}

function summaryOf(
  execution: Pick<
    WorkflowExecutionInfo,
    'workflowId' | 'runId' | 'type' | 'status' | 'startTime' | 'closeTime' | 'taskQueue'
  >,
): OperationSummary {
  return {
    operationId: execution.workflowId,
    runId: execution.runId,
    kind: operationKind(execution.type),
    workflowType: execution.type,
    state: execution.status.name,
    startTime: execution.startTime.toISOString(),
    ...(execution.closeTime ? { closeTime: execution.closeTime.toISOString() } : {}),
    taskQueue: execution.taskQueue,
  };
}

/** A workflow failure as the KvmCloneError inside it, with the code the activity gave. */
export function toKvmCloneError(error: unknown, operationId?: string): KvmCloneError {
  if (error instanceof KvmCloneError) return error;
  if (error instanceof WorkflowNotFoundError) {
    return new KvmCloneError(
      ErrorCode.OPERATION_NOT_FOUND,
      `no operation ${operationId ?? error.workflowId} (check the id with kvm-clone status --all)`,
      {
        operationId: operationId ?? error.workflowId,
      },
    );
  }
  if (error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure) {
    return new KvmCloneError(
      ErrorCode.OPERATION_CANCELLED_ERROR,
      'the operation was cancelled; the destination was cleaned up',
      {},
      { cause: error },
    );
  }
  const info = failureInfo(error);
  return new KvmCloneError(info.code, info.message, {}, { cause: error });
}
