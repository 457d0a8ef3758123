import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOMParser } from '@xmldom/xmldom';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { KvmCloneClient, type CloneResult } from '../../src/client';
import { findTemporalBinary } from '../../src/temporal/binary';
import { startDevServer, type DevServerHandle } from '../../src/temporal/dev-server';
import { findFreePort } from '../../src/temporal/free-port';
import { fingerprintSource, leftoversOf, settledStrayProcesses } from '../helpers/host-state';
import { Lab, uniqueVmName, type LabVm } from '../helpers/lab';
import { startProductionTemporal } from '../helpers/temporal-server';
import { waitForCopying } from '../helpers/temporal';
import { WorkerProcesses } from '../helpers/worker-processes';

const lab = new Lab(inject('labFile'));
const root = path.resolve(__dirname, '../..');

/**
 * Longer than the worker retries a heartbeat or a completion (about 10 s) and the SDK's client
 * retries a call (about 20 s): each of them gives up at least once while the server is away.
 */
const OUTAGE_MS = 20_000;

/** A Temporal server a test stops and starts again, with whatever it keeps (its database) in between. */
interface RestartableServer {
  address: string;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
}

/** Stops every server this file started and removes their files, whatever happened. */
const teardowns: (() => Promise<void>)[] = [];
/** Removes what a test made on the hosts. */
const cleanups: (() => Promise<void>)[] = [];
const workers = new WorkerProcesses(lab);

afterEach(async () => {
  await workers.killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  const results = await Promise.allSettled(
    teardowns
      .splice(0)
      .reverse()
      .map((teardown) => teardown()),
  );
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
});

/** A dev server on free ports keeping its history in a SQLite file, restarted on the same port and file. */
async function startPersistentDevServer(): Promise<RestartableServer> {
  const binary = await findTemporalBinary();
  if (!binary.path) throw new Error('no Temporal CLI: run scripts/setup first');
  const dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-dev-db-'));
  const options = {
    binary: binary.path,
    port: await findFreePort(),
    headless: true,
    dbFilename: path.join(dir, 'temporal.db'),
  };
  let running: DevServerHandle | undefined;
  teardowns.push(async () => {
    await running?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  running = await startDevServer(options);
  const address = running.address;
  return {
    address,
    async stopServer() {
      await running?.stop();
      running = undefined;
    },
    async startServer() {
      running = await startDevServer(options);
    },
  };
}

/** PostgreSQL, the schema and the 1.29.1 server with the shipped config; the server alone restarts. */
async function startPostgresTemporal(): Promise<RestartableServer> {
  const logFile = path.join(root, `.cache/test/logs/temporal-restart-server-${process.pid}.log`);
  const production = await startProductionTemporal(logFile);
  teardowns.push(async () => {
    await production.stop();
    await rm(logFile, { force: true });
  });
  return production;
}

/** Waits until a range transfer has confirmed a batch and has more to copy, so the outage lands mid-range. */
async function waitForConfirmedBatch(handle: WorkflowHandle): Promise<void> {
  for (let poll = 0; poll < 1200; poll += 1) {
    const description = await handle.describe();
    for (const activity of description.raw.pendingActivities ?? []) {
      const data = activity.heartbeatDetails?.payloads?.[0]?.data;
      if (activity.activityType?.name !== 'transferRange' || !data) continue;
      const details = JSON.parse(Buffer.from(data).toString('utf8')) as { bytesCommitted: number; bytesTotal: number };
      if (details.bytesCommitted > 0 && details.bytesCommitted < details.bytesTotal) return;
    }
    await sleep(100);
  }
  throw new Error('no range transfer confirmed a batch');
}

/** Files a domain on a host names as its disks and NVRAM. */
async function filesOfDomain(hostName: string, name: string): Promise<string[]> {
  const xml = await lab.virsh(hostName, 'dumpxml', '--inactive', '--domain', name);
  const document = new DOMParser().parseFromString(xml, 'text/xml');
  const files: string[] = [];
  for (const source of Array.from(document.getElementsByTagName('source'))) {
    const file = source.getAttribute('file');
    if (file) files.push(file);
  }
  for (const nvram of Array.from(document.getElementsByTagName('nvram'))) {
    const file = nvram.textContent?.trim();
    if (file) files.push(file);
  }
  return files;
}

/**
 * A clone of a shut-off VM on one worker process, with the server stopped for OUTAGE_MS once
 * a range confirmed a batch, then started again: the worker and a caller waiting for the
 * result ride the outage out, and the clone finishes verified with the hosts as they should be.
 */
async function cloneThroughServerRestart(server: RestartableServer, prefix: string): Promise<void> {
  const name = uniqueVmName(prefix);
  const newName = `${name}_clone`;
  cleanups.push(() => removeClone('b', newName));
  const vm: LabVm = await lab.makeVm('a', name, { dataSize: '2G', fillMib: 768 });
  cleanups.push(() => lab.removeVm('a', vm));
  const before = await fingerprintSource(lab, 'a', vm);

  const taskQueue = `restart-${randomUUID()}`;
  const worker = await workers.start({ taskQueue, address: server.address });
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new KvmCloneClient(new Client({ connection }), taskQueue);
    // At 20M a 256 MiB range takes about 13 s: the range the outage cuts into finishes while nobody
    // takes its completion, so it is retried once the server is back, and the ranges after it wait.
    const handle = await client.startClone({
      source: 'a',
      destination: 'b',
      vmName: name,
      parallel: 1,
      bandwidthLimit: '20M',
    });
    // A caller waiting for the result while the server goes away, as the CLI does. The SDK alone gives
    // up on a server that does not answer after about 20 s of retries.
    const waiting = client.result<CloneResult>(handle.workflowId);
    // Awaited below; a failure before that point must not surface as an unhandled rejection too.
    waiting.catch(() => undefined);
    await waitForCopying(client, handle.workflowId);
    await waitForConfirmedBatch(handle);

    await server.stopServer();
    await sleep(OUTAGE_MS);
    // The worker rides the outage out: its polls keep retrying, and it is the only one to finish the clone.
    expect(worker.child.exitCode).toBeNull();
    expect(worker.child.signalCode).toBeNull();
    await server.startServer();

    const result = await waiting;

    // 1 and 5: finished, every file verified, nothing lost.
    expect(result.success).toBe(true);
    expect(result.files.length).toBeGreaterThan(0);
    for (const file of result.files) {
      expect(file.digest?.source).toBeDefined();
      expect(file.digest?.destination).toBe(file.digest?.source);
    }
    // 2: the source as it was.
    expect(await fingerprintSource(lab, 'a', vm)).toEqual(before);
    // 3: on the destination, exactly the clone: its domain and its files, no partial file, no lock.
    const leftovers = await leftoversOf(lab, 'b', newName);
    const cloneFiles = await filesOfDomain('b', newName);
    expect(cloneFiles.length).toBeGreaterThan(0);
    expect(leftovers.filter((entry) => entry.endsWith('.part'))).toEqual([]);
    expect([...leftovers].sort()).toEqual([`domain ${newName}`, ...cloneFiles].sort());
    // 4: nothing of the operation still running on the hosts.
    expect(await settledStrayProcesses(lab)).toEqual([]);
    expect(worker.child.exitCode).toBeNull();
  } finally {
    await connection.close();
  }
}

/** Undefines a clone and removes the files it and the operation left (its disks, partial files, the lock). */
async function removeClone(hostName: string, newName: string): Promise<void> {
  await lab.virsh(hostName, 'destroy', '--domain', newName).catch(() => undefined);
  await lab.virsh(hostName, 'undefine', '--nvram', '--domain', newName).catch(() => undefined);
  for (const entry of await leftoversOf(lab, hostName, newName)) {
    if (!entry.startsWith('domain ')) await rm(entry, { recursive: true, force: true });
  }
}

describe('a Temporal server restarted mid-copy', () => {
  it('a dev server keeping its history in SQLite, stopped for 20 s mid-range and started again on the same port and file: the clone resumes and verifies', async () => {
    const server = await startPersistentDevServer();
    await cloneThroughServerRestart(server, 'devrestart');
  });

  it('the production server on PostgreSQL, stopped for 20 s mid-range and started again: the clone resumes and verifies', async () => {
    const server = await startPostgresTemporal();
    await cloneThroughServerRestart(server, 'pgrestart');
  });
});
