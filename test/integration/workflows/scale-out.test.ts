import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TransferProgress } from '../../../src/activities/transfer-range';
import { KvmCloneClient, type CloneResult } from '../../../src/client';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { WorkerProcesses } from '../../helpers/worker-processes';

const lab = new Lab(inject('labFile'));
const taskQueue = `scale-out-${randomUUID()}`;
let connection: Connection;
let client: KvmCloneClient;
let vm: LabVm | undefined;
const processes = new WorkerProcesses(lab);
const workers = new Map<string, ChildProcess>();

/**
 * A worker process on the shared task queue. One activity at a time per worker, so two
 * parallel ranges can only run at once when both workers take one.
 */
async function startWorkerProcess(identity: string): Promise<void> {
  const worker = await processes.start({ taskQueue, identity, maxConcurrentActivityTaskExecutions: 1 });
  workers.set(identity, worker.child);
}

/** Identities of the workers that ran each finished transferRange, from the history's ActivityTaskStarted events. */
async function transferIdentities(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const typeOfScheduled = new Map<string, string>();
  for (const event of events) {
    if (event.activityTaskScheduledEventAttributes)
      typeOfScheduled.set(String(event.eventId), event.activityTaskScheduledEventAttributes.activityType?.name ?? '');
  }
  return events
    .filter(
      (event) =>
        event.activityTaskStartedEventAttributes &&
        typeOfScheduled.get(String(event.activityTaskStartedEventAttributes.scheduledEventId)) === 'transferRange',
    )
    .map((event) => event.activityTaskStartedEventAttributes!.identity ?? '');
}

interface PendingTransfer {
  activityId: string;
  attempt: number;
  identity: string;
  progress: TransferProgress;
}

/** The transferRange activities a worker of this test is running, with their last heartbeat on the server. */
async function pendingTransfers(handle: WorkflowHandle): Promise<PendingTransfer[]> {
  const description = await handle.describe();
  return (description.raw.pendingActivities ?? []).flatMap((activity) => {
    const data = activity.heartbeatDetails?.payloads?.[0]?.data;
    const identity = activity.lastWorkerIdentity ?? '';
    if (activity.activityType?.name !== 'transferRange' || !data || !workers.has(identity)) return [];
    return [
      {
        activityId: activity.activityId ?? '',
        attempt: activity.attempt ?? 1,
        identity,
        progress: JSON.parse(Buffer.from(data).toString('utf8')) as TransferProgress,
      },
    ];
  });
}

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new KvmCloneClient(new Client({ connection }), taskQueue);
});

afterAll(async () => {
  await processes.killAll();
  await connection.close();
  if (vm) {
    await lab.removeVm('a', vm);
    await lab.virsh('b', 'undefine', '--nvram', '--domain', `${vm.name}_clone`).catch(() => undefined);
    await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${vm.name}_clone*`).catch(() => undefined);
  }
});

describe('scale-out: two workers on one task queue', () => {
  it('spread the ranges of a multi-disk clone over both workers, and one finishes alone after the other is SIGKILLed', async () => {
    const name = uniqueVmName('scale');
    // Two disks: the qcow2 root and a raw data disk with 768 MiB of data, so three 256 MiB ranges plus the root's.
    vm = await lab.makeVm('a', name, { dataSize: '2G', fillMib: 768 });
    await Promise.all([startWorkerProcess('scale-w1'), startWorkerProcess('scale-w2')]);
    // 18 MiB/s per stream: a range's second 128 MiB batch takes about 7 s. The kill must land
    // inside it, after the heartbeat (throttled to 2 s) showed the first batch and before the
    // range completes, even when coverage slows this process and the workers down.
    const handle = await client.startClone({
      source: 'a',
      destination: 'b',
      vmName: name,
      parallel: 2,
      bandwidthLimit: '36M',
    });

    // Wait until both workers have finished a range (the history names them), then kill a
    // worker while it is inside a range that has confirmed a batch. The worker is stopped
    // first and the server asked again, so the kill cannot land after the range completed.
    let killed: string | undefined;
    let committedAtKill = 0;
    for (let poll = 0; poll < 1200 && !killed; poll++) {
      const finishedOn = new Set(await transferIdentities(handle));
      if (finishedOn.has('scale-w1') && finishedOn.has('scale-w2')) {
        const midRange = (await pendingTransfers(handle)).find(
          (transfer) =>
            transfer.progress.bytesCommitted > 0 && transfer.progress.bytesCommitted < transfer.progress.bytesTotal,
        );
        if (midRange) {
          const worker = workers.get(midRange.identity)!;
          worker.kill('SIGSTOP');
          // Long enough for a completion already written to the socket to reach the server.
          await new Promise((resolve) => setTimeout(resolve, 1500));
          const stillRunning = (await pendingTransfers(handle)).find(
            (transfer) =>
              transfer.activityId === midRange.activityId &&
              transfer.attempt === midRange.attempt &&
              transfer.identity === midRange.identity,
          );
          if (stillRunning) {
            worker.kill('SIGKILL');
            await new Promise((resolve) => worker.once('exit', resolve));
            killed = midRange.identity;
            committedAtKill = stillRunning.progress.bytesCommitted;
          } else {
            worker.kill('SIGCONT');
          }
        }
      }
      if (!killed) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(killed, 'a worker was killed mid-range after both had run ranges').toBeDefined();
    const survivor = killed === 'scale-w1' ? 'scale-w2' : 'scale-w1';

    const result = await client.result<CloneResult>(handle.workflowId);
    expect(result.success).toBe(true);
    expect(result.files.length).toBeGreaterThanOrEqual(2);
    for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
    // The range cut short on the killed worker resumed after its last confirmed batch.
    expect(result.bytesResumed).toBeGreaterThanOrEqual(committedAtKill);

    // The history shows ranges run on both workers, and the killed worker's range finished on the survivor.
    const identities = await transferIdentities(handle);
    expect(new Set(identities)).toEqual(new Set(['scale-w1', 'scale-w2']));
    expect(identities.at(-1)).toBe(survivor);
    const events = (await handle.fetchHistory()).events ?? [];
    const retried = events.filter((event) => (event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried.map((event) => event.activityTaskStartedEventAttributes!.identity)).toContain(survivor);
  });
});
