import { hostname } from 'node:os';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import type { Connection } from '@temporalio/client';
import { createKvmCloneWorker } from '../worker';
import type { WorkerPolicyInput } from '../domain/schemas/worker-policy';
import type { KvmCloneConfig } from './config-schema';
import { stateDir } from './config';
import { configuredWebhooks } from './notify-merge';
import type { CliContext } from './global-options';
import { flushSdkLogFile, installSdkLogFile } from './log-level';
import { addFailureHint } from './output';
import { RotatingLogFile } from './rotating-log-file';
import type { TemporalAccess } from './temporal-access';

/**
 * A worker long-polls for about a minute at a time, and the server lists a poller for
 * minutes after its last poll. Only a poll this recent counts as a live worker, so one
 * that died a while ago does not keep the command from running the work itself.
 */
const LIVE_POLLER_MS = 75_000;

// temporal.api.enums.v1 values; @temporalio/proto is not a direct dependency.
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/**
 * Whether a poller's identity names a process of this machine that has exited. The SDK's
 * default identity is `<pid>@<hostname>`; the previous command's own worker is such a
 * poller, and it stays listed as recent for a minute after that command ended.
 */
export function isExitedLocalWorker(identity: string | null | undefined, localHost = hostname()): boolean {
  const match = /^(\d+)@(.+)$/.exec(identity ?? '');
  if (!match || match[2] !== localHost) return false;
  try {
    process.kill(Number(match[1]), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Whether some worker is polling the task queue for workflow tasks now. */
export async function workerIsPolling(
  connection: Pick<Connection, 'workflowService'>,
  namespace: string,
  taskQueue: string,
  now = Date.now(),
): Promise<boolean> {
  const response = await connection.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (response.pollers ?? []).some((poller) => {
    const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
    return now - seconds * 1000 < LIVE_POLLER_MS && !isExitedLocalWorker(poller.identity);
  });
}

/** Where a command's in-process worker logs: the state dir, beside the embedded server's own log. */
export function workerLogPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateDir(env), 'worker.log');
}

/**
 * The in-process worker logs to a file, not to the terminal, where its stacks would bury
 * the command's own output; a failure names the file. The file takes every entry at
 * --log-level (default info), whatever -v or -q say about the terminal.
 */
function openWorkerLog(context: CliContext, taskQueue: string): RotatingLogFile {
  const file = new RotatingLogFile(workerLogPath());
  const unwritable = (reason: string): void =>
    context.warn(`the worker's log cannot be written to ${file.path}: ${reason}`);
  try {
    // Several commands share the file: a line where each one's worker starts.
    file.write(`--- ${new Date().toISOString()} kvm-clone (pid ${process.pid}): worker on task queue ${taskQueue}\n`);
  } catch (error) {
    unwritable(error instanceof Error ? error.message : String(error));
  }
  installSdkLogFile(context.options.logLevel ?? 'info', file, {
    error: (message) => context.warn(`the worker: ${message} (see ${file.path})`),
    unwritable,
  });
  addFailureHint(`see ${file.path} for the worker's log`);
  return file;
}

/**
 * The policy of a worker that runs inside a CLI command: the config's, with host
 * references on unless the config turns them off. The names come from the command line of
 * the user whose ~/.ssh/config and keys resolve them, as `ssh user@host` would.
 */
export function embeddedWorkerPolicy(config: Pick<KvmCloneConfig, 'policy'>): WorkerPolicyInput {
  return { ...config.policy, hostReferences: config.policy?.hostReferences ?? true };
}

export interface RunningWorker {
  stop(): Promise<void>;
}

/**
 * With the embedded server, the command itself is the worker for as long as it runs,
 * unless another worker (e.g. `kvm-clone worker`, or another command) already polls.
 */
export async function startWorkerUnlessPolling(
  context: CliContext,
  config: KvmCloneConfig,
  access: TemporalAccess,
): Promise<RunningWorker | undefined> {
  if (await workerIsPolling(access.connection, access.namespace, access.taskQueue)) {
    context.detail(`a worker already polls task queue ${access.taskQueue}; not starting one`);
    return undefined;
  }
  const log = openWorkerLog(context, access.taskQueue);
  context.detail(`running a worker in this process on task queue ${access.taskQueue}; its log: ${log.path}`);
  const native = await NativeConnection.connect(access.connectionOptions);
  const { worker, deps } = await createKvmCloneWorker({
    connection: native,
    namespace: access.namespace,
    taskQueue: access.taskQueue,
    hosts: config.hosts,
    // The same config's policy and named webhooks: `--notify URL` works when the URL is under policy.webhookUrls.
    policy: embeddedWorkerPolicy(config),
    webhooks: configuredWebhooks(config),
  });
  const running = worker.run();
  return {
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      deps.pool.closeAll();
      await native.close();
      // The command exits next: the last entries (the workflow's failure) must reach the file.
      flushSdkLogFile();
    },
  };
}
