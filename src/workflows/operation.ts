import { ApplicationFailure, CancelledFailure, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import { operationTag } from '../domain/copied-file';
import type { HostRef } from '../domain/schemas/host';
import { validate } from '../domain/schemas/validate';
import { ErrorCode, errorCodeName, type ErrorCodeValue } from '../errors';
import { failureFromInfo, failureInfo, toApplicationFailure, type FailureInfo } from '../failures';
import { operationFailure } from './cleanup-report';
import { Compensations } from './compensations';
import { hostLabel } from './host-label';
import { progressQuery, type OperationProgress } from './progress';
import { withTimeout, type TimeoutState } from './with-timeout';

/** What a workflow does: its failures and notifications name it. */
export type OperationKind = 'clone' | 'sync' | 'migrate';

/** What the options of every operation hold. */
export interface OperationOptions {
  source: HostRef;
  destination: HostRef;
  vmName: string;
  parallel: number;
  timeout: number;
}

/** What a failed operation says, after its cause, about the state it left. */
export interface FailureWording {
  /** After a timeout or a cancellation whose cleanup went through. */
  afterStop: string;
  /** After any other cause, and after every cause when cleanup failed; '' (or absent) when there is nothing to add. */
  afterFailure?: () => string;
}

/** The fields every operation's result starts with. */
export interface ResultFields {
  operationId: string;
  success: true;
  vmName: string;
  sourceHost: string;
  destinationHost: string;
  durationSeconds: number;
  warnings: string[];
}

/**
 * One run of a clone or a sync: its progress, its undo list and its warnings, and how it
 * ends. `run` gives the body the operation's timeout; when the body fails, is cancelled or
 * times out, every registered undo step runs, newest first, and the failure says what
 * ended the operation and what cleanup left (1200/1201, see cleanup-report.ts).
 */
export class Operation<O extends OperationOptions> {
  readonly compensations = new Compensations();
  readonly warnings: string[] = [];
  readonly operationId = workflowInfo().workflowId;
  /** Names this run's partial files and overlays: stable across retries and replays. */
  readonly tag = operationTag(workflowInfo().workflowId, workflowInfo().runId);
  private readonly timeout: TimeoutState = { timedOut: false };

  constructor(
    readonly kind: OperationKind,
    readonly options: O,
    readonly progress: OperationProgress,
    private readonly startedAt: number,
  ) {}

  async run<R>(wording: FailureWording, body: () => Promise<R>): Promise<R> {
    try {
      return await withTimeout(this.options.timeout, this.timeout, body);
    } catch (error) {
      throw await this.failureAfterCleanup(error, wording);
    }
  }

  resultFields(): ResultFields {
    return {
      operationId: this.operationId,
      success: true,
      vmName: this.options.vmName,
      sourceHost: hostLabel(this.options.source),
      destinationHost: hostLabel(this.options.destination),
      durationSeconds: (Date.now() - this.startedAt) / 1000,
      warnings: this.warnings,
    };
  }

  /** Runs the undo steps, then says how the operation ended. */
  private async failureAfterCleanup(error: unknown, wording: FailureWording): Promise<Error> {
    this.progress.phase = 'cleaning-up';
    const cleanupFailures = await this.compensations.unwind();
    this.progress.phase = 'failed';
    const subject = `${this.kind === 'migrate' ? 'migration' : this.kind} of '${this.options.vmName}'`;
    const timedOut = `${subject} did not finish within ${this.options.timeout} s`;
    const cancelled = `${subject} was cancelled`;
    const leftAsItIs = wording.afterFailure?.() ?? '';
    if (cleanupFailures.length > 0) {
      // Whatever ended the operation, what cleanup left is the news: 1200/1201, with the first cause in the details.
      const cause = this.timeout.timedOut
        ? stoppedBy(ErrorCode.OPERATION_TIMEOUT, timedOut)
        : isCancellation(error)
          ? stoppedBy(ErrorCode.OPERATION_CANCELLED_ERROR, cancelled)
          : failureInfo(error);
      return operationFailure(this.kind, followedBy(cause, leftAsItIs), cleanupFailures);
    }
    if (this.timeout.timedOut) {
      return ApplicationFailure.create({
        type: 'OPERATION_TIMEOUT',
        message: `${timedOut}${wording.afterStop}`,
        nonRetryable: true,
        details: [{ code: ErrorCode.OPERATION_TIMEOUT }],
      });
    }
    // A cancelled activity surfaces as an ActivityFailure; the workflow itself ends cancelled.
    if (isCancellation(error)) return new CancelledFailure(`${cancelled}${wording.afterStop}`);
    return failureFromInfo(followedBy(failureInfo(error), leftAsItIs));
  }
}

function stoppedBy(code: ErrorCodeValue, message: string): FailureInfo {
  return { code, codeName: errorCodeName(code), message };
}

function followedBy(info: FailureInfo, words: string): FailureInfo {
  return words ? { ...info, message: `${info.message}${words}` } : info;
}

/**
 * Starts an operation: answers progress queries from now on, then validates the input
 * (an invalid one fails at once, with the code naming the field: nothing to undo yet).
 */
export function beginOperation<S extends z.ZodType<OperationOptions>>(
  kind: OperationKind,
  schema: S,
  input: unknown,
): Operation<z.output<S>> {
  const startedAt = Date.now();
  const progress: OperationProgress = { phase: 'validating', disks: [], bytesTotal: 0, bytesDone: 0 };
  setHandler(progressQuery, () => progress);
  try {
    return new Operation(kind, validate(schema, input, `${kind} input`), progress, startedAt);
  } catch (error) {
    throw toApplicationFailure(error);
  }
}
