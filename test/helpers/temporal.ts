import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, inject } from 'vitest';
import { KvmCloneClient } from '../../src/client';
import type { HostAliasInput } from '../../src/activities/host-registry';
import { createKvmCloneWorker, type KvmCloneWorkerOptions } from '../../src/worker';
import { Lab } from './lab';
import { installTestRuntime } from './test-log';

export interface TestEnvironment {
  client: KvmCloneClient;
  worker: Worker;
  taskQueue: string;
  stop(): Promise<void>;
}

export type TestEnvironmentOptions = Pick<KvmCloneWorkerOptions, 'decorateActivities' | 'policy' | 'webhooks'>;

/**
 * A real worker on its own task queue against the run's dev server, running the
 * workflow bundle built once in global setup, and a client bound to that queue. Its
 * policy is the lab's (Lab.policy: the defaults, with the lab's guest dir as host files),
 * with the keys a test gives replacing those. It logs to the test file's log (test-log.ts).
 */
export async function startTestEnvironment(
  hosts: Record<string, HostAliasInput>,
  options: TestEnvironmentOptions = {},
): Promise<TestEnvironment> {
  const address = inject('temporalAddress');
  const taskQueue = `test-${randomUUID()}`;
  installTestRuntime();
  const nativeConnection = await NativeConnection.connect({ address });
  const { worker, deps } = await createKvmCloneWorker({
    connection: nativeConnection,
    taskQueue,
    hosts,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    ...options,
    policy: new Lab(inject('labFile')).policy(options.policy),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new KvmCloneClient(new Client({ connection }), taskQueue);
  return {
    client,
    worker,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      deps.pool.closeAll();
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** Registers hooks that start a test environment before a file's tests and stop it after. */
export function useTestEnvironment(
  hosts: Record<string, HostAliasInput>,
  options: TestEnvironmentOptions = {},
): () => TestEnvironment {
  let env: TestEnvironment | undefined;
  beforeAll(async () => {
    env = await startTestEnvironment(hosts, options);
  });
  afterAll(async () => {
    await env?.stop();
  });
  return () => {
    if (!env) throw new Error('test environment not started');
    return env;
  };
}

/** Waits until an operation has copied its first bytes, so a fault lands mid-copy; fails after about 20-30 s. */
export async function waitForCopying(client: KvmCloneClient, operationId: string, attempts = 300): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const progress = await client.progress(operationId);
    if (progress.phase === 'copying' && progress.bytesDone > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${operationId} never started copying`);
}
