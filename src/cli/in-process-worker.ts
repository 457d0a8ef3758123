import { hostname } from 'node:os';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import type { Connection } from '@temporalio/client';
import { createKvmCloneWorker } from '../worker';
import type { WorkerPolicyInput } from '../domain/schemas/worker-policy';
import type { HostSpec } from '../domain/schemas/host';
import type { HostRegistry } from '../activities/host-registry';
import type { ReferenceDefaults } from '../hosts/ssh-config';
import type { KvmCloneConfig } from './config-schema';
import { stateDir } from './config';
import { configuredWebhooks } from './notify-merge';
import type { CliContext } from './global-options';
import { unlockKeysOnTerminal, type TerminalAgent } from './key-unlock';
import { flushSdkLogFile, installSdkLogFile } from './log-level';
import { addFailureHint } from './output';
import { RotatingLogFile } from './rotating-log-file';
import type { TemporalAccess } from './temporal-access';
import { UsageError } from './usage-error';

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
  hostRefs: readonly string[] = [],
): Promise<RunningWorker | undefined> {
  if (await workerIsPolling(access.connection, access.namespace, access.taskQueue)) {
    context.detail(`a worker already polls task queue ${access.taskQueue}; not starting one`);
    return undefined;
  }
  return startInProcessWorker(context, config, access, hostRefs);
}

const SHARED_WORKER_OWNS_KEYS =
  "-k/--ssh-key and --ssh-port set how this command's own worker reaches hosts given by ssh name; a shared worker's config owns its keys and ports (hosts.<alias>.identityFile and port, or its user's ~/.ssh/config)";

/**
 * Refuses (usage, exit 2) -k/--ssh-port when no worker of this command can run the operation: with a configured
 * Temporal address, a shared worker runs it. Checked before connecting, so a refused command starts no server.
 */
export function requireOwnWorkerPossible(config: Pick<KvmCloneConfig, 'temporal'>): void {
  if (config.temporal.address) {
    throw new UsageError(
      `${SHARED_WORKER_OWNS_KEYS}: with temporal.address configured a shared worker runs the operation, so give the key and port to it, not on the command line`,
      { flags: ['--ssh-key', '--ssh-port'] },
    );
  }
}

/**
 * This command's own worker, resolving host references with `referenceDefaults` (-k/--ssh-port). Started before the
 * operation, and refused (usage, exit 2) when another worker already polls: that one would run the operation with
 * its own keys and ports.
 */
export async function startOwnWorker(
  context: CliContext,
  config: KvmCloneConfig,
  access: TemporalAccess,
  referenceDefaults: ReferenceDefaults,
  hostRefs: readonly string[] = [],
): Promise<RunningWorker> {
  requireOwnWorkerPossible(config);
  if (await workerIsPolling(access.connection, access.namespace, access.taskQueue)) {
    throw new UsageError(
      `${SHARED_WORKER_OWNS_KEYS}: a worker already polls task queue ${access.taskQueue} (kvm-clone worker, or another command's) and would run the operation; stop it, or run without these flags`,
      { flags: ['--ssh-key', '--ssh-port'], taskQueue: access.taskQueue },
    );
  }
  return startInProcessWorker(context, config, access, hostRefs, referenceDefaults);
}

/** The hosts an operation will reach, as this worker resolves them; one it cannot resolve fails in the operation. */
function resolvable(registry: HostRegistry, hostRefs: readonly string[]): HostSpec[] {
  return hostRefs.flatMap((ref) => {
    try {
      return [registry.resolve(ref)];
    } catch {
      return [];
    }
  });
}

/**
 * Keys with a passphrase that the operation's hosts need, unlocked on the terminal before the worker runs (see
 * unlockKeysOnTerminal); the worker reaches them through SSH_AUTH_SOCK, which was unset.
 */
async function unlockKeysFor(registry: HostRegistry, hostRefs: readonly string[]): Promise<TerminalAgent | undefined> {
  const agent = await unlockKeysOnTerminal(resolvable(registry, hostRefs));
  if (agent) process.env.SSH_AUTH_SOCK = agent.socket;
  return agent;
}

async function startInProcessWorker(
  context: CliContext,
  config: KvmCloneConfig,
  access: TemporalAccess,
  hostRefs: readonly string[],
  referenceDefaults?: ReferenceDefaults,
): Promise<RunningWorker> {
  const log = openWorkerLog(context, access.taskQueue);
  context.detail(`running a worker in this process on task queue ${access.taskQueue}; its log: ${log.path}`);
  const native = await NativeConnection.connect(access.connectionOptions);
  let agent: TerminalAgent | undefined;
  const { worker, deps } = await createKvmCloneWorker({
    connection: native,
    namespace: access.namespace,
    taskQueue: access.taskQueue,
    hosts: config.hosts,
    // The same config's policy and named webhooks: `--notify URL` works when the URL is under policy.webhookUrls.
    policy: embeddedWorkerPolicy(config),
    ...(referenceDefaults ? { referenceDefaults } : {}),
    webhooks: configuredWebhooks(config),
    beforeWorker: async ({ hosts }) => {
      agent = await unlockKeysFor(hosts, hostRefs);
    },
  }).catch(async (error: unknown) => {
    await agent?.stop();
    await native.close();
    throw error;
  });
  const running = worker.run();
  return {
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      deps.pool.closeAll();
      await native.close();
      if (agent) {
        delete process.env.SSH_AUTH_SOCK;
        await agent.stop();
      }
      // The command exits next: the last entries (the workflow's failure) must reach the file.
      flushSdkLogFile();
    },
  };
}
