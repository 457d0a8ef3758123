import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, inject } from 'vitest';
import type { cloneVM, migrateVM, scheduledCloneVM, syncVM } from '../../src/workflows';
import { installTestRuntime } from './test-log';
import { ActivityStubs, type ActivityScripts, type DefaultActivityScripts, type StubScenario } from './stub-activities';

interface Workflows {
  cloneVM: typeof cloneVM;
  syncVM: typeof syncVM;
  scheduledCloneVM: typeof scheduledCloneVM;
  migrateVM: typeof migrateVM;
}
type WorkflowName = keyof Workflows;

/** A workflow started against stub activities: its handle, its activity calls, and how it ended. */
export interface StubbedRun<R> {
  handle: WorkflowHandle;
  activities: StubScenario;
  result(): Promise<R>;
  /**
   * The cause of the workflow's failure (an ApplicationFailure, a CancelledFailure); fails the test if it succeeded.
   */
  failure(): Promise<Error>;
}

export interface StubWorkerEnvironment {
  /** Starts a workflow on the worker's queue; `scripts` replace the default activities' answers for this run. */
  start<W extends WorkflowName>(
    workflowType: W,
    input: Parameters<Workflows[W]>[0],
    scripts?: ActivityScripts,
  ): Promise<StubbedRun<Awaited<ReturnType<Workflows[W]>>>>;
}

/**
 * A real worker on its own task queue against the project's dev server, running the bundled
 * workflows with stub activities, and a client. Registers hooks that start it before the
 * file's tests and stop it after. Each run has its own scenario (calls and scripts), so a
 * file's tests may run concurrently on the one worker.
 */
export function useStubWorker(defaults: DefaultActivityScripts): () => StubWorkerEnvironment {
  let env: (StubWorkerEnvironment & { stop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    // The SDK logs each failure a test scripts: to the test file's log, shown when a test fails.
    installTestRuntime();
    const address = inject('stubbedTemporalAddress');
    const taskQueue = `workflow-test-${randomUUID()}`;
    const stubs = new ActivityStubs(defaults);
    const nativeConnection = await NativeConnection.connect({ address });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: { codePath: inject('stubbedWorkflowBundlePath') },
      activities: stubs.activities,
      // A cancellation reaches an activity with the answer to its heartbeat: send them at once.
      maxHeartbeatThrottleInterval: '100 ms',
      defaultHeartbeatThrottleInterval: '100 ms',
    });
    const running = worker.run();
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    env = {
      async start(workflowType, input, scripts = {}) {
        const activities = stubs.scenario(scripts);
        const handle = await client.workflow.start(workflowType, {
          taskQueue,
          workflowId: activities.workflowId,
          args: [input] as never,
        });
        return {
          handle,
          activities,
          result: () => handle.result() as never,
          failure: () => failureOf(handle),
        };
      },
      async stop() {
        worker.shutdown();
        await running;
        await connection.close();
        await nativeConnection.close();
      },
    };
  });
  afterAll(async () => {
    await env?.stop();
  });
  return () => {
    if (!env) throw new Error('stub worker not started');
    return env;
  };
}

async function failureOf(handle: WorkflowHandle): Promise<Error> {
  let result: unknown;
  try {
    result = await handle.result();
  } catch (error) {
    if (error instanceof WorkflowFailedError && error.cause) return error.cause;
    throw error;
  }
  throw new Error(`${handle.workflowId} succeeded, a failure was expected: ${JSON.stringify(result)}`);
}
