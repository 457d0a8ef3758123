import { randomUUID } from 'node:crypto';
import { open, readdir, rm } from 'node:fs/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TransferProgress } from '../../src/activities/transfer-range';
import { KvmCloneClient, type CloneResult } from '../../src/client';
import type { CloneInput } from '../../src/domain/schemas/clone-input';
import { parseDomainXml } from '../../src/domain/domain-xml';
import type { Extent } from '../../src/domain/transfer-plan';
import { guestWriterScript, lastWriterRecord, waitForWriter } from '../helpers/guest-writer';
import { fingerprintSource, leftoversOf, settledStrayProcesses } from '../helpers/host-state';
import { Lab, uniqueVmName, type LabVm } from '../helpers/lab';
import { activityAttempts, WorkerProcesses, type WorkerProcess } from '../helpers/worker-processes';

/**
 * A worker SIGKILLed at the points where a retry must cope with work already done: while
 * it verifies, after it merged a live source back, after it defined the clone, and after
 * it wrote a range that is then corrupted on the destination. Each operation finishes on
 * another worker, verified, with exactly one clone and the source as it was.
 */

const lab = new Lab(inject('labFile'));
const workers = new WorkerProcesses(lab);
let connection: Connection;
const vms: LabVm[] = [];
const clones: string[] = [];

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
});

afterEach(async () => {
  await workers.killAll();
  for (const newName of clones.splice(0)) await removeFromDestination(newName);
  for (const vm of vms.splice(0)) await lab.removeVm('a', vm);
});

afterAll(async () => {
  await workers.killAll();
  await connection?.close();
});

/** The clone's domain and every file or lock of its name on host b. */
async function removeFromDestination(newName: string): Promise<void> {
  await lab.virsh('b', 'destroy', '--domain', newName).catch(() => undefined);
  await lab.virsh('b', 'undefine', '--nvram', '--domain', newName).catch(() => undefined);
  for (const left of await leftoversOf(lab, 'b', newName)) {
    if (!left.startsWith('domain ')) await rm(left, { recursive: true, force: true });
  }
}

/** A source VM on host a, removed after the test with its clone on host b. */
async function sourceVm(prefix: string, options: Parameters<Lab['makeVm']>[2] = {}): Promise<LabVm> {
  const name = uniqueVmName(prefix);
  clones.push(`${name}_clone`);
  const vm = await lab.makeVm('a', name, options);
  vms.push(vm);
  return vm;
}

/** A client on a task queue of the test's own, so only the workers it starts poll it. */
function queueClient(): { client: KvmCloneClient; taskQueue: string } {
  const taskQueue = `faults-kill-${randomUUID()}`;
  return { client: new KvmCloneClient(new Client({ connection }), taskQueue), taskQueue };
}

type Input = Omit<CloneInput, 'source' | 'destination' | 'vmName'>;

async function startClone(client: KvmCloneClient, vm: LabVm, input: Input = {}): Promise<WorkflowHandle> {
  return client.startClone({ source: 'a', destination: 'b', vmName: vm.name, ...input });
}

/** A pending activity as the server describes it. */
type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;

async function pendingActivities(handle: WorkflowHandle): Promise<PendingActivity[]> {
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') throw new Error(`${handle.workflowId} ended: ${description.status.name}`);
  return description.raw.pendingActivities ?? [];
}

async function pause(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * SIGKILLs `worker` while an attempt of `activityType` runs on it: one the server shows
 * started on two polls a second apart, so a short one that ends between a poll and the
 * kill is not taken for it. Returns the killed activity's id.
 */
async function killWhileRunning(handle: WorkflowHandle, activityType: string, worker: WorkerProcess): Promise<string> {
  let seen: { id: string; since: number } | undefined;
  for (let poll = 0; poll < 3000; poll++) {
    const running = (await pendingActivities(handle)).find(
      (activity) => activity.activityType?.name === activityType && activity.state === STARTED,
    );
    if (running?.activityId && seen?.id === running.activityId && Date.now() - seen.since >= 1000) {
      await worker.kill();
      return running.activityId;
    }
    if (running?.activityId !== seen?.id)
      seen = running?.activityId ? { id: running.activityId, since: Date.now() } : undefined;
    await pause(100);
  }
  throw new Error(`no ${activityType} activity ran long enough to be killed`);
}

/** The heartbeat details the server holds for a pending activity. */
function heartbeatOf<T>(activity: PendingActivity): T | undefined {
  const data = activity.heartbeatDetails?.payloads?.[0]?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as T) : undefined;
}

/** One scheduled activity in a workflow's history: its input and the attempt that closed it. */
interface ScheduledActivity {
  type: string;
  activityId: string;
  input: Record<string, unknown>;
  /** The attempt whose result the history records; absent while it runs. */
  attempt?: number;
}

async function scheduledActivities(handle: WorkflowHandle): Promise<ScheduledActivity[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const byEvent = new Map<string, ScheduledActivity>();
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const data = scheduled.input?.payloads?.[0]?.data;
      byEvent.set(String(event.eventId), {
        type: scheduled.activityType?.name ?? '',
        activityId: scheduled.activityId ?? '',
        input: data ? (JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>) : {},
      });
    }
    const started = event.activityTaskStartedEventAttributes;
    const activity = started && byEvent.get(String(started.scheduledEventId));
    if (activity) activity.attempt = started.attempt ?? 1;
  }
  return [...byEvent.values()];
}

/** Failure types of the activities that failed for good, with their causes. */
async function activityFailureTypes(handle: WorkflowHandle): Promise<string[]> {
  const types: string[] = [];
  for (const event of (await handle.fetchHistory()).events ?? []) {
    for (
      let failure = event.activityTaskFailedEventAttributes?.failure;
      failure;
      failure = failure.cause ?? undefined
    ) {
      if (failure.applicationFailureInfo?.type) types.push(failure.applicationFailureInfo.type);
    }
  }
  return types;
}

/** Domains on host b named after the source: the clone, and any second one a retry made. */
async function clonesOnDestination(vm: LabVm): Promise<string[]> {
  const names = (await lab.virsh('b', 'list', '--all', '--name')).split('\n').map((name) => name.trim());
  return names.filter((name) => name.startsWith(vm.name));
}

/**
 * The operation finished verified, and host b holds exactly its clone: one domain (defined
 * once: defineClone ran `defineAttempts` attempts and none failed with 1004), its final
 * files and no partial copy or lock. No command of the operation is still running.
 */
async function expectVerifiedClone(
  handle: WorkflowHandle,
  vm: LabVm,
  result: CloneResult,
  defineAttempts: number[],
): Promise<void> {
  const newName = `${vm.name}_clone`;
  expect(result.success).toBe(true);
  expect(result.files.length).toBeGreaterThan(0);
  for (const file of result.files) {
    expect(file.digest?.source).toMatch(/^[0-9a-f]{64}$/);
    expect(file.digest?.destination).toBe(file.digest?.source);
  }
  expect(await clonesOnDestination(vm)).toEqual([newName]);
  expect((await leftoversOf(lab, 'b', newName)).sort()).toEqual(
    [`domain ${newName}`, ...result.files.map((file) => file.destinationPath)].sort(),
  );
  expect((await activityAttempts(handle)).get('defineClone')).toEqual(defineAttempts);
  expect(await activityFailureTypes(handle)).not.toContain('VM_EXISTS_ERROR');
  expect(await settledStrayProcesses(lab)).toEqual([]);
}

/** A running source is back on its own disks, in its live and its persistent definition, and no overlay is left. */
async function expectLiveSourceRestored(vm: LabVm, originalXml: string): Promise<void> {
  expect(await lab.domainState('a', vm.name)).toBe('running');
  const original = parseDomainXml(originalXml).disks.map((disk) => disk.sourcePath);
  const live = parseDomainXml(await lab.virsh('a', 'dumpxml', '--domain', vm.name));
  const persistent = parseDomainXml(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name));
  expect(live.disks.map((disk) => disk.sourcePath)).toEqual(original);
  expect(persistent.disks.map((disk) => disk.sourcePath)).toEqual(original);
  expect(await lab.virsh('a', 'dumpxml', '--domain', vm.name)).not.toContain('.kvm-clone-');
  expect((await readdir(vm.dir)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
}

/** Flips one byte of data a copy wrote into `file` within `range` (a non-zero byte: the partial file began as a hole). */
async function flipWrittenByte(file: string, range: Extent): Promise<number> {
  const handle = await open(file, 'r+');
  try {
    const chunk = Buffer.alloc(1024 * 1024);
    const end = range.start + range.length;
    // From the middle of the range first, so the flip lands inside the data rather than on a header.
    for (const from of [range.start + Math.floor(range.length / 2), range.start]) {
      for (let offset = from; offset < end; offset += chunk.length) {
        const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, end - offset), offset);
        const index = chunk.subarray(0, bytesRead).findIndex((byte) => byte !== 0);
        if (index < 0) continue;
        const flipped = Buffer.from([chunk[index]! ^ 0xff]);
        await handle.write(flipped, 0, 1, offset + index);
        await handle.sync();
        return offset + index;
      }
    }
    throw new Error(`no written data in ${file} at ${range.start}+${range.length}`);
  } finally {
    await handle.close();
  }
}

describe('a worker SIGKILLed mid-operation is replaced and the operation finishes verified', () => {
  it('killed while it verifies a copied file: the verification runs again on the new worker', async () => {
    // A large sparse data disk: its whole-file hash runs for seconds, long enough to be caught running.
    const vm = await sourceVm('killverify', { dataSize: '8G', fillMib: 256 });
    const before = await fingerprintSource(lab, 'a', vm);
    const { client, taskQueue } = queueClient();
    const first = await workers.start({ taskQueue });
    const handle = await startClone(client, vm, { parallel: 1 });

    const killed = await killWhileRunning(handle, 'verifyFile', first);
    await workers.start({ taskQueue });
    const result = await client.result<CloneResult>(handle.workflowId);

    await expectVerifiedClone(handle, vm, result, [1]);
    const verifies = (await scheduledActivities(handle)).filter((activity) => activity.type === 'verifyFile');
    expect(verifies.find((activity) => activity.activityId === killed)?.attempt).toBe(2);
    expect(verifies.map((activity) => activity.attempt)).not.toContain(3);
    expect(await fingerprintSource(lab, 'a', vm)).toEqual(before);
  });

  it('killed after it merged a live source back: the retry finds it merged, and the source runs on its own disks', async () => {
    const vm = await sourceVm('killmerge', { runScript: guestWriterScript, dataSize: '256M', fillMib: 96 });
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name);
    await lab.virsh('a', 'start', '--domain', vm.name);
    await waitForWriter(`${vm.dir}/console.log`);
    const { client, taskQueue } = queueClient();
    const first = await workers.start({ taskQueue, holdAfter: ['mergeSource'] });
    const handle = await startClone(client, vm);

    await first.printed('HELD mergeSource');
    await first.kill();
    await workers.start({ taskQueue });
    const result = await client.result<CloneResult>(handle.workflowId);

    expect(result.consistency).toBe('crash-consistent');
    await expectVerifiedClone(handle, vm, result, [1]);
    expect((await activityAttempts(handle)).get('mergeSource')).toEqual([2]);
    await expectLiveSourceRestored(vm, originalXml);
    expect(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name)).toBe(originalXml);
    // The guest's writes during the copy went to the overlay and were merged into its own data disk.
    const copiedData = result.files.find((file) => file.target === 'vdb')!.destinationPath;
    const recordsInCopy = await lastWriterRecord(copiedData);
    await lab.virsh('a', 'destroy', '--domain', vm.name);
    expect(await lastWriterRecord(vm.dataPath)).toBeGreaterThan(recordsInCopy);
  });

  it('killed after it defined the clone: the retry adopts its own domain instead of refusing it with 1004', async () => {
    const vm = await sourceVm('killdefine');
    const before = await fingerprintSource(lab, 'a', vm);
    const { client, taskQueue } = queueClient();
    const first = await workers.start({ taskQueue, holdAfter: ['defineClone'] });
    const handle = await startClone(client, vm);

    await first.printed('HELD defineClone');
    expect(await lab.domainState('b', `${vm.name}_clone`)).toBe('shut off');
    await first.kill();
    await workers.start({ taskQueue });
    // defineClone has no heartbeat: the server retries it once its start-to-close timeout (5 minutes) has passed.
    const result = await client.result<CloneResult>(handle.workflowId);

    await expectVerifiedClone(handle, vm, result, [2]);
    expect(await fingerprintSource(lab, 'a', vm)).toEqual(before);
  }, 600_000);

  it('a byte corrupted on the destination after its range was written is caught by the verify, and the range is copied again', async () => {
    const vm = await sourceVm('corrupt', { dataSize: '1G', fillMib: 64 });
    const before = await fingerprintSource(lab, 'a', vm);
    const { client, taskQueue } = queueClient();
    const first = await workers.start({ taskQueue, holdAfter: ['transferRange'] });
    const handle = await startClone(client, vm, { parallel: 1 });

    await first.printed('HELD transferRange');
    // The server must hold the range's last heartbeat (all of it written), or the retry would write it again
    // and overwrite the corruption; it gets it within the SDK's heartbeat throttle, well inside the 30 s timeout.
    let held: PendingActivity | undefined;
    for (let poll = 0; poll < 600 && !held; poll++) {
      held = (await pendingActivities(handle)).find((activity) => {
        const progress = activity.activityType?.name === 'transferRange' && heartbeatOf<TransferProgress>(activity);
        return progress && progress.bytesCommitted === progress.bytesTotal;
      });
      if (!held) await pause(100);
    }
    if (!held) throw new Error('the held range never reported all of its data written');
    const heldId = held.activityId;
    const input = (await scheduledActivities(handle)).find((activity) => activity.activityId === heldId)!.input as {
      sourcePath: string;
      destinationPath: string;
      range: Extent;
    };
    expect(input.destinationPath).toMatch(/\.kvm-clone-.*\.part$/);
    await flipWrittenByte(input.destinationPath, input.range);
    await first.kill();
    await workers.start({ taskQueue });
    const result = await client.result<CloneResult>(handle.workflowId);

    await expectVerifiedClone(handle, vm, result, [1]);
    expect(result.rangesRecopied).toBe(1);
    expect(result.warnings).toContain(
      `range ${input.range.start}+${input.range.length} of ${input.sourcePath} differed after the copy and was copied again`,
    );
    // The range: its resumed transfer (nothing left to send), the check that caught the byte, the copy again, the check that passed.
    const ofRange = (await scheduledActivities(handle)).filter((activity) => {
      const other = activity.input as { destinationPath?: string; range?: Extent };
      return other.destinationPath === input.destinationPath && other.range?.start === input.range.start;
    });
    expect(ofRange.map((activity) => [activity.type, activity.attempt])).toEqual([
      ['transferRange', 2],
      ['verifyRange', 1],
      ['transferRange', 1],
      ['verifyRange', 1],
    ]);
    expect(await fingerprintSource(lab, 'a', vm)).toEqual(before);
  });
});
