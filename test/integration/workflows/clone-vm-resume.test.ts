import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { TransferProgress } from '../../../src/activities/transfer-range';
import { KvmCloneClient } from '../../../src/client';
import { Lab, uniqueVmName } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
const root = path.resolve(__dirname, '../../..');
const taskQueue = `resume-${randomUUID()}`;
let connection: Connection;
let client: KvmCloneClient;
const workers: ChildProcess[] = [];

/** Starts a worker process and resolves once it polls the task queue. */
function startWorkerProcess(): Promise<ChildProcess> {
  const options = { address: inject('temporalAddress'), taskQueue, hosts: lab.aliases(), workflowBundlePath: inject('workflowBundlePath') };
  // node itself, not the tsx wrapper, so that SIGKILL reaches the worker and not a parent of it.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/helpers/worker-process.ts'), JSON.stringify(options)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  workers.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('READY')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`worker process exited with ${code} before it was ready`)));
  });
}

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new KvmCloneClient(new Client({ connection }), taskQueue);
});

afterAll(async () => {
  for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
  await connection.close();
});

describe('cloneVM survives a killed worker', () => {
  it('a worker SIGKILLed mid-range is replaced and the clone resumes from the last confirmed batch', async () => {
    const name = uniqueVmName('resume');
    const vm = await lab.makeVm('a', name, { dataSize: '2G', fillMib: 768 });
    const first = await startWorkerProcess();
    // The bandwidth limit makes a 128 MiB batch take seconds, longer than the heartbeat
    // throttle, so the kill below lands inside a range that has confirmed a batch.
    const handle = await client.startClone({ source: 'a', destination: 'b', vmName: name, parallel: 1, bandwidthLimit: '40M' });

    // Kill the worker once a range has confirmed a batch but not finished.
    let committedAtKill = 0;
    for (let poll = 0; ; poll++) {
      expect(poll).toBeLessThan(1200);
      const description = await handle.describe();
      for (const activity of description.raw.pendingActivities ?? []) {
        if (activity.activityType?.name !== 'transferRange' || !activity.heartbeatDetails?.payloads?.[0]?.data) continue;
        const details = JSON.parse(Buffer.from(activity.heartbeatDetails.payloads[0].data).toString('utf8')) as TransferProgress;
        if (details.bytesCommitted > 0 && details.bytesCommitted < details.bytesTotal) committedAtKill = details.bytesCommitted;
      }
      if (committedAtKill > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    await startWorkerProcess();
    const result = await client.result<import('../../../src/client').CloneResult>(handle.workflowId);

    expect(result.success).toBe(true);
    // The retry started after the batch the killed worker had confirmed, not from the range's start.
    expect(result.bytesResumed).toBeGreaterThanOrEqual(committedAtKill);
    for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).filter((event) => event.activityTaskStartedEventAttributes).map((event) => event.activityTaskStartedEventAttributes!.attempt ?? 1);
    expect(Math.max(...attempts)).toBeGreaterThan(1);
    const guestConsole = await lab.bootAndReadConsole('b', `${name}_clone`, `${lab.host('b').storageDir}/${name}_clone-console.log`);
    expect(guestConsole).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
  });
});
