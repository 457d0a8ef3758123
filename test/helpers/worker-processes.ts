import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { inject } from 'vitest';
import type { HostAliasInput } from '../../src/activities/host-registry';
import { Lab } from './lab';

const root = path.resolve(__dirname, '../..');

export interface WorkerProcessSettings {
  taskQueue: string;
  /** Default: the run's Temporal server. */
  address?: string;
  identity?: string;
  maxConcurrentActivityTaskExecutions?: number;
  /** Activity types whose first attempt does its work and then waits to be killed (worker-process.ts). */
  holdAfter?: string[];
  /** Default: the lab's aliases. */
  hosts?: Record<string, HostAliasInput>;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the process printed this line (e.g. `HELD defineClone`). */
  printed(line: string): Promise<void>;
  /** SIGKILL, the way a crash or the OOM killer ends a worker; resolves once it exited. */
  kill(): Promise<void>;
}

/** Worker processes a test starts and SIGKILLs (test/helpers/worker-process.ts), with the lab's hosts and policy. */
export class WorkerProcesses {
  private readonly started: WorkerProcess[] = [];

  constructor(private readonly lab = new Lab(inject('labFile'))) {}

  /** Starts a worker and resolves once it polls its task queue. */
  start(settings: WorkerProcessSettings): Promise<WorkerProcess> {
    const options = {
      address: settings.address ?? inject('temporalAddress'),
      hosts: this.lab.aliases(),
      policy: this.lab.policy(),
      workflowBundlePath: inject('workflowBundlePath'),
      ...settings,
    };
    // node itself, not the tsx wrapper, so that SIGKILL reaches the worker and not a parent of it.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'test/helpers/worker-process.ts'), JSON.stringify(options)],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    const waiters: { line: string; resolve: () => void }[] = [];
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const waiter of waiters.filter((candidate) => output.includes(candidate.line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
    const worker: WorkerProcess = {
      child,
      printed: (line) =>
        output.includes(line) ? Promise.resolve() : new Promise((resolve) => waiters.push({ line, resolve })),
      kill: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      },
    };
    this.started.push(worker);
    return new Promise((resolve, reject) => {
      child.on('exit', (code) => reject(new Error(`worker process exited with ${code} before it was ready`)));
      void worker.printed('READY').then(() => resolve(worker));
    });
  }

  /** SIGKILLs every worker started so far. */
  async killAll(): Promise<void> {
    await Promise.all(this.started.splice(0).map((worker) => worker.kill()));
  }
}

/** Activity attempts in a workflow's history, by activity type: how often each was started. */
export async function activityAttempts(handle: WorkflowHandle): Promise<Map<string, number[]>> {
  const events = (await handle.fetchHistory()).events ?? [];
  const typeOfScheduled = new Map<string, string>();
  const attempts = new Map<string, number[]>();
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) typeOfScheduled.set(String(event.eventId), scheduled.activityType?.name ?? '');
    const started = event.activityTaskStartedEventAttributes;
    if (!started) continue;
    const type = typeOfScheduled.get(String(started.scheduledEventId)) ?? '';
    attempts.set(type, [...(attempts.get(type) ?? []), started.attempt ?? 1]);
  }
  return attempts;
}
