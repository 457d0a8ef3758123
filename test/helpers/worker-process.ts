/**
 * A kvm-clone worker in a process of its own, so a test can SIGKILL it mid-copy the way
 * a crash or an OOM kill would. Configured by one JSON argument; prints READY once polling.
 *
 *   node --import tsx test/helpers/worker-process.ts '{"address": ..., "taskQueue": ..., "hosts": {...}, "policy"?: {...}, "workflowBundlePath": ..., "identity"?: ..., "maxConcurrentActivityTaskExecutions"?: ..., "holdAfter"?: [...]}'
 *
 * With `holdAfter`, the first attempt of each named activity does its work and then never
 * reports it: the process prints `HELD <activity>` and waits, so a test can SIGKILL it in the
 * window a crash after the work and before its report would hit, the one a retry must survive.
 */
import { Context } from '@temporalio/activity';
import { NativeConnection } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import type { HostAliasInput } from '../../src/activities/host-registry';
import type { WorkerPolicyInput } from '../../src/domain/schemas/worker-policy';
import { createKvmCloneWorker } from '../../src/worker';
import { installTestRuntime } from './test-log';

interface WorkerProcessOptions {
  address: string;
  taskQueue: string;
  hosts: Record<string, HostAliasInput>;
  /** The worker policy; tests pass Lab.policy(). */
  policy?: WorkerPolicyInput;
  workflowBundlePath: string;
  /** Shown as `identity` in the history's ActivityTaskStarted events. */
  identity?: string;
  maxConcurrentActivityTaskExecutions?: number;
  /** Activity types whose first attempt holds after its work, until the process is killed. */
  holdAfter?: string[];
}

/** Wraps the named activities so that their first attempt does its work, prints HELD and never returns. */
function holdingAfter(names: string[]): (activities: Activities) => Activities {
  return (activities) => {
    const held = { ...activities } as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const name of names) {
      const real = held[name];
      if (!real) throw new Error(`holdAfter: no activity named ${name}`);
      held[name] = async (...args: unknown[]) => {
        const result = await real(...args);
        if (Context.current().info.attempt > 1) return result;
        process.stdout.write(`HELD ${name}\n`);
        return new Promise(() => {});
      };
    }
    return held as unknown as Activities;
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as WorkerProcessOptions;
  // Into the log of the test file that started this process (its env), not onto the terminal.
  installTestRuntime();
  const connection = await NativeConnection.connect({ address: options.address });
  const { worker } = await createKvmCloneWorker({
    connection,
    taskQueue: options.taskQueue,
    hosts: options.hosts,
    ...(options.policy ? { policy: options.policy } : {}),
    workflowBundle: { codePath: options.workflowBundlePath },
    ...(options.holdAfter ? { decorateActivities: holdingAfter(options.holdAfter) } : {}),
    tuning: {
      ...(options.identity ? { identity: options.identity } : {}),
      ...(options.maxConcurrentActivityTaskExecutions
        ? { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions }
        : {}),
    },
  });
  const running = worker.run();
  process.stdout.write('READY\n');
  process.on('SIGTERM', () => worker.shutdown());
  await running;
  await connection.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
