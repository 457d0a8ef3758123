import { existsSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, createActivityDeps, type Activities, type ActivityDeps } from './activities';
import { HostRegistry } from './activities/host-registry';
import type { HostAliasInput } from './activities/host-registry';
import { configuredWebhookSchema, webhookNameSchema, type ConfiguredWebhookInput } from './domain/schemas/notify';
import { validate } from './domain/schemas/validate';
import { workerPolicySchema, type WorkerPolicyInput } from './domain/schemas/worker-policy';
import { sshCryptoBindingLoaded } from './hosts/crypto-binding';
import type { ReferenceDefaults } from './hosts/ssh-config';
import { operationLogInterceptor } from './observability';

import { DEFAULT_TASK_QUEUE } from './task-queue';

export { DEFAULT_TASK_QUEUE };

export interface KvmCloneWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** Host aliases that workflow inputs may name, with their direct routes (`direct.<destination alias>`). */
  hosts?: Record<string, HostAliasInput>;
  /** The operator's policy (policy: in the config): inline hosts, webhook URLs, devices, host files. */
  policy?: WorkerPolicyInput;
  /**
   * The key and port a CLI command's own worker resolves host references with (`-k`, `--ssh-port`); a shared worker
   * has none: its config owns keys and ports.
   */
  referenceDefaults?: ReferenceDefaults;
  /** Webhooks by name (webhooks: in the config) that workflow inputs may name: `{ name }`. */
  webhooks?: Record<string, ConfiguredWebhookInput>;
  /**
   * A prebuilt workflow bundle (tests bundle once); default: the one `npm run build` writes, else bundle from source.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Wraps the activities, e.g. to instrument them or, in tests, to inject faults at a real boundary. */
  decorateActivities?: (activities: Activities, deps: ActivityDeps) => Activities;
  /**
   * Runs once hosts resolve and before the Temporal worker exists, so that a failure leaves nothing to shut down: a
   * CLI command unlocks the keys of the operation's hosts there.
   */
  beforeWorker?: (deps: ActivityDeps) => Promise<void>;
  /** Extra worker options, e.g. concurrency limits. */
  tuning?: Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'shutdownGraceTime' | 'identity'>;
}

export interface KvmCloneWorker {
  worker: Worker;
  deps: ActivityDeps;
}

/**
 * `npm run build` bundles the workflows beside the compiled worker, so that a worker run
 * from dist/ (the CLI, the image) does not load webpack and bundle at every start. Run from
 * source (tsx), there is no such file and the workflows are bundled from source.
 */
const buildBundlePath = path.join(__dirname, 'workflow-bundle.js');

function workflowCode(
  bundle: WorkerOptions['workflowBundle'],
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundle) return { workflowBundle: bundle };
  if (existsSync(buildBundlePath)) return { workflowBundle: { codePath: buildBundlePath } };
  return { workflowsPath: require.resolve('./workflows') };
}

export async function createKvmCloneWorker(options: KvmCloneWorkerOptions): Promise<KvmCloneWorker> {
  if (!sshCryptoBindingLoaded()) {
    process.emitWarning(
      "ssh2's native crypto binding is not loaded: transfers will run about 4x slower. Reinstall without --ignore-scripts so node-gyp can build it.",
      {
        code: 'KVM_CLONE_SSH2_NO_BINDING',
      },
    );
  }
  const policy = validate(workerPolicySchema, options.policy ?? {}, 'worker policy');
  const webhooks = Object.fromEntries(
    Object.entries(options.webhooks ?? {}).map(([name, webhook]) => [
      validate(webhookNameSchema, name, 'webhook name'),
      validate(configuredWebhookSchema, webhook, `webhook '${name}'`),
    ]),
  );
  const hosts = new HostRegistry(options.hosts ?? {}, policy, undefined, options.referenceDefaults);
  const deps = createActivityDeps({ hosts, policy, webhooks });
  await options.beforeWorker?.(deps);
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    activities: options.decorateActivities
      ? options.decorateActivities(createActivities(deps), deps)
      : createActivities(deps),
    // Progress shown by `status` and the CLI comes from heartbeat details, so send them
    // every few seconds rather than at the SDK's default of up to 30-60 s.
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '2 seconds',
    // A log line at each activity's start and end, tagged with the operation (workflow) id.
    interceptors: { activity: [operationLogInterceptor] },
    ...workflowCode(options.workflowBundle),
    ...options.tuning,
  });
  return { worker, deps };
}
