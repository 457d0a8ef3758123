import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleSummary as TemporalScheduleSummary,
} from '@temporalio/client';
import { expandNameTemplate } from '../domain/name-template';
import { cloneInputSchema, type CloneInput } from '../domain/schemas/clone-input';
import { syncInputSchema, type SyncInput } from '../domain/schemas/sync-input';
import { validate } from '../domain/schemas/validate';
import { ErrorCode, KvmCloneError } from '../errors';
import { cloneOperationId, syncOperationId } from './operation-id';
import type { OperationState } from './operations';

/** What a schedule runs: a sync, or a clone whose new name may hold {date}, {time} or {datetime}. */
export type ScheduledAction = { kind: 'sync'; input: SyncInput } | { kind: 'clone'; input: CloneInput };

/**
 * What happens when a run is due while the previous one still runs. Temporal's
 * TERMINATE_OTHER is not among them: a terminated workflow runs no code at all, so the
 * run it stops would leave its source on overlays and its partial files on the
 * destination. `cancel-other` stops the previous run the way `kvm-clone cancel` does,
 * with its cleanup.
 */
export const OVERLAP_POLICIES = ['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'allow-all'] as const;
/** 'terminate-other' only describes a schedule made outside kvm-clone (the Temporal UI); kvm-clone never sets it. */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number] | 'terminate-other';

function terminateRefused(where: string): KvmCloneError {
  return new KvmCloneError(
    ErrorCode.VALIDATION_ERROR,
    `${where}: 'terminate-other' stops the previous run without its cleanup (its source left on overlays, partial files left behind); use 'cancel-other', which cleans up`,
    { value: 'terminate-other' },
    { retryable: false },
  );
}

export interface CreateScheduleOptions {
  /** The schedule's id in Temporal, and its name in the CLI. */
  name: string;
  /** Cron expressions (UTC), e.g. `0 2 * * *`; give cron or every. */
  cron?: string | string[];
  /** An interval such as `6h`, `30m`, `90s` or `1d`. */
  every?: string;
  action: ScheduledAction;
  /** Default `skip`: a run never starts on top of the previous one. */
  overlap?: OverlapPolicy;
  /** How late a missed run (server down) may still start; default 1 hour. */
  catchupWindow?: string;
  paused?: boolean;
  note?: string;
}

export interface ScheduleRun {
  scheduledAt: string;
  startedAt: string;
  operationId: string;
  runId: string;
}

export interface ScheduleSummary {
  name: string;
  kind: ScheduledAction['kind'];
  workflowType: string;
  paused: boolean;
  note?: string;
  /** Times (ISO 8601) of the next runs. */
  nextRuns: string[];
  recentRuns: ScheduleRun[];
}

export interface ScheduleRunResult extends ScheduleRun {
  state: OperationState;
  result?: { success: boolean; durationSeconds: number; bytesTransferred: number; warnings: string[] };
  error?: { code: number; codeName: string; message: string };
}

export interface ScheduleDetails {
  name: string;
  kind: ScheduledAction['kind'];
  workflowType: string;
  taskQueue: string;
  input: SyncInput | CloneInput;
  cron: string[];
  intervals: { everySeconds: number; offsetSeconds: number }[];
  overlap: OverlapPolicy;
  catchupWindowSeconds: number;
  paused: boolean;
  note?: string;
  actionsTaken: number;
  /** Runs that were due while the previous one still ran, and were skipped (overlap policy). */
  skippedOverlap: number;
  missedCatchupWindow: number;
  runningOperations: string[];
  recentRuns: ScheduleRunResult[];
  nextRuns: string[];
  createdAt: string;
}

/** The workflow type a schedule's action starts, by kind; a clone goes through the dated-name wrapper. */
const WORKFLOW_OF_KIND = { sync: 'syncVM', clone: 'scheduledCloneVM' } as const;
const KIND_OF_WORKFLOW: Record<string, ScheduledAction['kind']> = { syncVM: 'sync', scheduledCloneVM: 'clone' };

const SDK_OVERLAP: Record<OverlapPolicy, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `6h` → milliseconds; seconds, minutes, hours or days, whole numbers only. */
export function parseInterval(text: string, what = '--every'): number {
  const match = /^(\d+)\s*([smhd])$/.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2]!]! : 0;
  if (!match || ms < 1000)
    throw new KvmCloneError(
      ErrorCode.VALIDATION_ERROR,
      `${what}: '${text}' is not an interval such as 90s, 30m, 6h or 1d`,
      { value: text },
      { retryable: false },
    );
  return ms;
}

export function parseOverlapPolicy(text: string): OverlapPolicy {
  if (text === 'terminate-other') throw terminateRefused('--overlap');
  if ((OVERLAP_POLICIES as readonly string[]).includes(text)) return text as OverlapPolicy;
  throw new KvmCloneError(
    ErrorCode.VALIDATION_ERROR,
    `--overlap: '${text}' is not one of ${OVERLAP_POLICIES.join(', ')}`,
    { value: text },
    { retryable: false },
  );
}

function overlapName(policy: ScheduleOverlapPolicy | undefined): OverlapPolicy {
  return (Object.entries(SDK_OVERLAP).find(([, sdk]) => sdk === policy)?.[0] as OverlapPolicy | undefined) ?? 'skip';
}

/**
 * The action's workflow id: the operation id a manual run would have. Temporal appends the
 * run's time to it (`sync:b:web01-2025-01-31T02:00:00Z`), so runs of one schedule never
 * collide, and the overlap policy keeps them from running at once.
 */
function actionOf(action: ScheduledAction): {
  workflowType: string;
  workflowId: string;
  input: SyncInput | CloneInput;
} {
  if (action.kind === 'sync') {
    const options = validate(syncInputSchema, action.input, 'sync input');
    return {
      workflowType: WORKFLOW_OF_KIND.sync,
      workflowId: syncOperationId(options.destination, options.targetName ?? options.vmName),
      input: action.input,
    };
  }
  // The dated name is checked as it will be on a run, with a sample time.
  const sample =
    action.input.newName === undefined
      ? action.input
      : { ...action.input, newName: expandNameTemplate(action.input.newName, new Date()) };
  const options = validate(cloneInputSchema, sample, 'clone input');
  return {
    workflowType: WORKFLOW_OF_KIND.clone,
    workflowId: cloneOperationId(options.source, options.vmName, options.destination, action.input.newName),
    input: action.input,
  };
}

function scheduleError(error: unknown, name: string): KvmCloneError {
  if (error instanceof KvmCloneError) return error;
  if (error instanceof ScheduleNotFoundError)
    return new KvmCloneError(ErrorCode.OPERATION_NOT_FOUND, `no schedule '${name}' (see kvm-clone schedule list)`, {
      schedule: name,
    });
  if (error instanceof ScheduleAlreadyRunning)
    return new KvmCloneError(
      ErrorCode.GENERAL_ERROR,
      `a schedule named '${name}' already exists`,
      { schedule: name },
      { retryable: false },
    );
  const reason =
    error instanceof Error
      ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}`
      : String(error);
  // The server validates cron expressions; what it refuses is the caller's to fix.
  if (/invalid|malformed/i.test(reason))
    return new KvmCloneError(
      ErrorCode.VALIDATION_ERROR,
      `schedule '${name}': ${reason}`,
      { schedule: name },
      { retryable: false },
    );
  return new KvmCloneError(
    ErrorCode.CONNECTION_ERROR,
    `schedule '${name}': ${reason}`,
    { schedule: name },
    { cause: error },
  );
}

function runOf(execution: {
  scheduledAt: Date;
  takenAt: Date;
  action: { workflow: { workflowId: string; firstExecutionRunId: string } };
}): ScheduleRun {
  return {
    scheduledAt: execution.scheduledAt.toISOString(),
    startedAt: execution.takenAt.toISOString(),
    operationId: execution.action.workflow.workflowId,
    runId: execution.action.workflow.firstExecutionRunId,
  };
}

/** Recurring syncs and clones as Temporal Schedules, whose runs show as ordinary operations. */
export class KvmCloneSchedules {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async create(options: CreateScheduleOptions): Promise<{ name: string }> {
    const cron = options.cron === undefined ? [] : Array.isArray(options.cron) ? options.cron : [options.cron];
    if (cron.length > 0 === (options.every !== undefined)) {
      throw new KvmCloneError(
        ErrorCode.VALIDATION_ERROR,
        `schedule '${options.name}': give a cron expression or an interval (every), not both or neither`,
        {},
        { retryable: false },
      );
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/.test(options.name)) {
      throw new KvmCloneError(
        ErrorCode.VALIDATION_ERROR,
        `schedule name '${options.name}': letters, digits, '_', '.', ':' and '-' only`,
        {},
        { retryable: false },
      );
    }
    if (options.overlap === 'terminate-other') throw terminateRefused(`schedule '${options.name}'`);
    const action = actionOf(options.action);
    const spec: ScheduleOptions['spec'] =
      options.every !== undefined
        ? { intervals: [{ every: parseInterval(options.every) }] }
        : { cronExpressions: cron };
    try {
      await this.temporal.schedule.create({
        scheduleId: options.name,
        spec,
        action: {
          type: 'startWorkflow',
          workflowType: action.workflowType,
          workflowId: action.workflowId,
          taskQueue: this.taskQueue,
          args: [action.input],
        },
        policies: { overlap: SDK_OVERLAP[options.overlap ?? 'skip'], catchupWindow: options.catchupWindow ?? '1 hour' },
        state: { paused: options.paused ?? false, ...(options.note ? { note: options.note } : {}) },
        // The server compiles cron text into calendars; the memo keeps the text as it was written.
        memo: { kvmClone: { kind: options.action.kind, ...(cron.length > 0 ? { cron } : { every: options.every }) } },
      });
    } catch (error) {
      throw scheduleError(error, options.name);
    }
    return { name: options.name };
  }

  /** kvm-clone's schedules (those that start a sync or a scheduled clone), by name. */
  async list(): Promise<ScheduleSummary[]> {
    const schedules: ScheduleSummary[] = [];
    try {
      for await (const schedule of this.temporal.schedule.list()) {
        const summary = summaryOf(schedule);
        if (summary) schedules.push(summary);
      }
    } catch (error) {
      throw scheduleError(error, '*');
    }
    return schedules.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The schedule's policy and counters, its next run times, and its recent runs with their outcomes. */
  async describe(
    name: string,
    outcome: (run: ScheduleRun) => Promise<Omit<ScheduleRunResult, keyof ScheduleRun>>,
  ): Promise<ScheduleDetails> {
    let description: ScheduleDescription;
    try {
      description = await this.temporal.schedule.getHandle(name).describe();
    } catch (error) {
      throw scheduleError(error, name);
    }
    const action = description.action;
    const recentRuns = await Promise.all(
      description.info.recentActions.map(runOf).map(async (run) => ({ ...run, ...(await outcome(run)) })),
    );
    return {
      name,
      kind: KIND_OF_WORKFLOW[action.workflowType] ?? 'sync',
      workflowType: action.workflowType,
      taskQueue: action.taskQueue,
      input: action.args?.[0] as SyncInput | CloneInput,
      cron: (description.memo?.kvmClone as { cron?: string[] } | undefined)?.cron ?? [],
      intervals: (description.spec.intervals ?? []).map((interval) => ({
        everySeconds: Number(interval.every) / 1000,
        offsetSeconds: Number(interval.offset ?? 0) / 1000,
      })),
      overlap: overlapName(description.policies.overlap),
      catchupWindowSeconds: description.policies.catchupWindow / 1000,
      paused: description.state.paused,
      ...(description.state.note ? { note: description.state.note } : {}),
      actionsTaken: description.info.numActionsTaken,
      skippedOverlap: description.info.numActionsSkippedOverlap,
      missedCatchupWindow: description.info.numActionsMissedCatchupWindow,
      runningOperations: description.info.runningActions.map((running) => running.workflow.workflowId),
      recentRuns: recentRuns.reverse(),
      nextRuns: description.info.nextActionTimes.map((time) => time.toISOString()),
      createdAt: description.info.createdAt.toISOString(),
    };
  }

  async pause(name: string, note?: string): Promise<void> {
    await this.patch(name, (handle) => handle.pause(note ?? 'paused with kvm-clone'));
  }

  async unpause(name: string, note?: string): Promise<void> {
    await this.patch(name, (handle) => handle.unpause(note ?? 'unpaused with kvm-clone'));
  }

  /**
   * Runs the action now. The SDK would allow a triggered run beside a running one
   * (ALLOW_ALL); this passes the schedule's own policy, so a trigger skips like a due run.
   * A schedule made elsewhere with TERMINATE_OTHER is triggered with CANCEL_OTHER: the
   * running operation gets to clean up.
   */
  async trigger(name: string): Promise<void> {
    await this.patch(name, async (handle) => {
      const overlap = (await handle.describe()).policies.overlap;
      await handle.trigger(
        overlap === ScheduleOverlapPolicy.TERMINATE_OTHER ? ScheduleOverlapPolicy.CANCEL_OTHER : overlap,
      );
    });
  }

  async delete(name: string): Promise<void> {
    await this.patch(name, (handle) => handle.delete());
  }

  private async patch(
    name: string,
    change: (handle: ReturnType<Client['schedule']['getHandle']>) => Promise<void>,
  ): Promise<void> {
    try {
      await change(this.temporal.schedule.getHandle(name));
    } catch (error) {
      throw scheduleError(error, name);
    }
  }
}

function summaryOf(schedule: TemporalScheduleSummary): ScheduleSummary | undefined {
  const workflowType = schedule.action?.workflowType;
  const kind = workflowType === undefined ? undefined : KIND_OF_WORKFLOW[workflowType];
  if (!kind || !workflowType) return undefined;
  return {
    name: schedule.scheduleId,
    kind,
    workflowType,
    paused: schedule.state.paused,
    ...(schedule.state.note ? { note: schedule.state.note } : {}),
    nextRuns: schedule.info.nextActionTimes.map((time) => time.toISOString()),
    recentRuns: schedule.info.recentActions.map(runOf),
  };
}
