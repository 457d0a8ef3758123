import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { TransferProgress } from '../../../src/activities/transfer-range';
import { KvmCloneClient, type CloneResult, type SyncResult } from '../../../src/client';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { activityAttempts, WorkerProcesses, type WorkerProcess } from '../../helpers/worker-processes';

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
const taskQueue = `resume-${randomUUID()}`;
let connection: Connection;
let client: KvmCloneClient;
const workers = new WorkerProcesses(lab);
const startWorkerProcess = () => workers.start({ taskQueue });

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new KvmCloneClient(new Client({ connection }), taskQueue);
});

// Every worker a test started is killed after it, so the next test's kill hits the only worker polling.
afterEach(() => workers.killAll());

afterAll(async () => {
  await workers.killAll();
  await connection.close();
});

/** Waits until a pending activity of this type reports progress past its start, then SIGKILLs the worker. */
async function killMidActivity(
  handle: WorkflowHandle,
  activityType: string,
  isMidway: (details: Record<string, number>) => boolean,
  worker: WorkerProcess,
): Promise<Record<string, number>> {
  for (let poll = 0; poll < 1200; poll++) {
    const description = await handle.describe();
    for (const activity of description.raw.pendingActivities ?? []) {
      const data = activity.heartbeatDetails?.payloads?.[0]?.data;
      if (activity.activityType?.name !== activityType || !data) continue;
      const details = JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, number>;
      if (isMidway(details)) {
        await worker.kill();
        return details;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${activityType} activity got midway`);
}

describe('operations survive a killed worker', () => {
  it('a worker SIGKILLed mid-range is replaced and the clone resumes from the last confirmed batch', async () => {
    const name = uniqueVmName('resume');
    const vm = await lab.makeVm('a', name, { dataSize: '2G', fillMib: 768 });
    const first = await startWorkerProcess();
    // The bandwidth limit makes a 128 MiB batch take seconds, longer than the heartbeat
    // throttle, so the kill below lands inside a range that has confirmed a batch.
    const handle = await client.startClone({
      source: 'a',
      destination: 'b',
      vmName: name,
      parallel: 1,
      bandwidthLimit: '40M',
    });

    // Kill the worker once a range has confirmed a batch but not finished.
    const atKill = (await killMidActivity(
      handle,
      'transferRange',
      (details) => details.bytesCommitted! > 0 && details.bytesCommitted! < details.bytesTotal!,
      first,
    )) as unknown as TransferProgress;
    const committedAtKill = atKill.bytesCommitted;

    await startWorkerProcess();
    const result = await client.result<CloneResult>(handle.workflowId);

    expect(result.success).toBe(true);
    // The retry started after the batch the killed worker had confirmed, not from the range's start.
    expect(result.bytesResumed).toBeGreaterThanOrEqual(committedAtKill);
    for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
    expect(Math.max(...[...(await activityAttempts(handle)).values()].flat())).toBeGreaterThan(1);
    const guestConsole = await lab.bootAndReadConsole(
      'b',
      `${name}_clone`,
      `${lab.host('b').storageDir}/${name}_clone-console.log`,
    );
    expect(guestConsole).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
  });

  it('a sync whose worker is SIGKILLed mid-range finishes on another worker; the target stays marked incomplete meanwhile', async () => {
    const name = uniqueVmName('resync');
    const vm = await lab.makeVm('a', name, { dataSize: '2G', fillMib: 768 });
    const first = await startWorkerProcess();
    await client.clone({ source: 'a', destination: 'b', vmName: name, newName: name });
    await run('dd', [
      'if=/dev/urandom',
      `of=${vm.dataPath}`,
      'bs=1M',
      'seek=128',
      'count=512',
      'conv=notrunc',
      'status=none',
    ]);

    const handle = await client.startSync({
      source: 'a',
      destination: 'b',
      vmName: name,
      parallel: 1,
      bandwidthLimit: '40M',
    });
    await killMidActivity(
      handle,
      'syncRange',
      (details) => details.bytesCompared! > 0 && details.bytesCompared! < details.bytesTotal!,
      first,
    );
    expect(await lab.virsh('b', 'desc', '--domain', name, '--title')).toContain('sync incomplete');

    await startWorkerProcess();
    const result = await client.result<SyncResult>(handle.workflowId);

    expect(result.success).toBe(true);
    for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
    expect(Math.max(...[...(await activityAttempts(handle)).values()].flat())).toBeGreaterThan(1);
    expect(await lab.virsh('b', 'desc', '--domain', name, '--title')).not.toContain('sync incomplete');
  });
});
