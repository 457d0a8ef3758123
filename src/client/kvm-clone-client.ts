import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import type { TransferProgress } from '../activities/transfer-range';
import { ErrorCode, KvmCloneError } from '../errors';
import { failureInfo } from '../failures';
import type { CloneResult } from '../domain/clone-result';
import { cloneInputSchema, type CloneInput } from '../domain/schemas/clone-input';
import { validate } from '../domain/schemas/validate';
import { DEFAULT_TASK_QUEUE } from '../task-queue';
import type { cloneVM } from '../workflows/clone-vm';
import { progressQuery, type OperationProgress } from '../workflows/progress';
import { cloneOperationId } from './operation-id';

export interface KvmCloneClientOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

/** Starts and follows kvm-clone operations on a Temporal cluster, for services and the CLI. */
export class KvmCloneClient {
  constructor(
    readonly temporal: Client,
    readonly taskQueue: string = DEFAULT_TASK_QUEUE,
  ) {}

  static async connect(options: KvmCloneClientOptions = {}): Promise<KvmCloneClient> {
    const connection = await Connection.connect({ address: options.address ?? '127.0.0.1:7233' });
    return new KvmCloneClient(new Client({ connection, namespace: options.namespace ?? 'default' }), options.taskQueue);
  }

  /** Validates the input here, so a bad field fails fast with its code, then starts the clone. */
  async startClone(input: CloneInput): Promise<WorkflowHandle<typeof cloneVM>> {
    const options = validate(cloneInputSchema, input, 'clone input');
    const workflowId = cloneOperationId(options.source, options.vmName, options.destination);
    try {
      return await this.temporal.workflow.start<typeof cloneVM>('cloneVM', {
        taskQueue: this.taskQueue,
        workflowId,
        args: [input],
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        throw new KvmCloneError(ErrorCode.CLONE_ERROR, `a clone of '${options.vmName}' to the same destination is already running (operation ${workflowId})`, {
          operationId: workflowId,
        });
      }
      throw error;
    }
  }

  /** Starts a clone and waits for its result; a failure is thrown as a KvmCloneError. */
  async clone(input: CloneInput): Promise<CloneResult> {
    const handle = await this.startClone(input);
    return this.result<CloneResult>(handle.workflowId);
  }

  async result<T>(operationId: string): Promise<T> {
    try {
      return (await this.temporal.workflow.getHandle(operationId).result()) as T;
    } catch (error) {
      throw toKvmCloneError(error);
    }
  }

  /**
   * Progress from real bytes: the workflow's count of completed ranges plus the bytes
   * that running transfer activities last reported in their heartbeats.
   */
  async progress(operationId: string): Promise<OperationProgress> {
    const handle = this.temporal.workflow.getHandle(operationId);
    const [progress, description] = await Promise.all([handle.query(progressQuery), handle.describe()]);
    for (const activity of description.raw.pendingActivities ?? []) {
      const payload = activity.heartbeatDetails?.payloads?.[0];
      if (activity.activityType?.name !== 'transferRange' || !payload) continue;
      const heartbeat = defaultPayloadConverter.fromPayload<Partial<TransferProgress>>(payload);
      progress.bytesDone += heartbeat.bytesDone ?? 0;
    }
    progress.bytesDone = Math.min(progress.bytesDone, progress.bytesTotal);
    return progress;
  }

  async cancel(operationId: string): Promise<void> {
    await this.temporal.workflow.getHandle(operationId).cancel();
  }

  async close(): Promise<void> {
    await this.temporal.connection.close();
  }
}

/** A workflow failure as the KvmCloneError inside it, with the code the activity gave. */
export function toKvmCloneError(error: unknown): KvmCloneError {
  if (error instanceof KvmCloneError) return error;
  if (error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure) {
    return new KvmCloneError(ErrorCode.OPERATION_CANCELLED_ERROR, 'the operation was cancelled; the destination was cleaned up', {}, { cause: error });
  }
  const info = failureInfo(error);
  return new KvmCloneError(info.code, info.message, {}, { cause: error });
}
