import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TransferProgress } from '../../src/activities/transfer-range';
import { KvmCloneClient, type CloneResult } from '../../src/client';
import { ErrorCode } from '../../src/errors';
import { fingerprintSource, leftoversOf, settledStrayProcesses } from '../helpers/host-state';
import { Lab, uniqueVmName, type LabVm } from '../helpers/lab';
import { activityAttempts, WorkerProcesses } from '../helpers/worker-processes';

/**
 * Link faults during a relay clone: the SSH connection carrying a range cut on the source,
 * then on the destination, and the destination's sshd gone for a minute. Each clone must
 * resume after the last batch the destination confirmed and finish verified.
 */

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
const workers = new WorkerProcesses(lab);
let connection: Connection;

/** What a case made, for afterEach to remove whatever happened. */
interface Made {
  vm?: LabVm;
  newName?: string;
  handle?: WorkflowHandle;
}
let made: Made = {};

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
});

afterEach(async () => {
  const { vm, newName, handle } = made;
  made = {};
  // Each step runs even when one before it failed; the first failure is reported after.
  await inOrder([
    () => workers.killAll(),
    // Other tests need host b's sshd, whatever this case did to it.
    () => startSshd('b'),
    () => handle?.terminate('test cleanup').catch(() => undefined),
    () => newName && removeFromDestination(newName),
    () => vm && lab.removeVm('a', vm),
  ]);
});

afterAll(async () => {
  await workers.killAll();
  await startSshd('b');
  await connection.close();
});

/** A VM whose 512 MiB of data take about 25 s at 20 MiB/s, in 256 MiB ranges of two 128 MiB batches. */
async function relayClone(prefix: string) {
  const name = uniqueVmName(prefix);
  made.vm = await lab.makeVm('a', name, { dataSize: '1G', fillMib: 512 });
  made.newName = `${name}_clone`;
  const before = await fingerprintSource(lab, 'a', made.vm);
  const taskQueue = `ssh-link-${name}`;
  await workers.start({ taskQueue });
  const client = new KvmCloneClient(new Client({ connection }), taskQueue);
  // One stream, so the only activity in flight when the fault lands is the range being relayed,
  // and a bandwidth limit, so each batch lasts seconds and the fault lands between confirmed batches.
  made.handle = await client.startClone({
    source: 'a',
    destination: 'b',
    vmName: name,
    parallel: 1,
    bandwidthLimit: '20M',
  });
  return { vm: made.vm, newName: made.newName, before, client, handle: made.handle };
}

/** Waits until a range has confirmed a batch and has more to send; returns its heartbeat. */
async function midRange(handle: WorkflowHandle): Promise<TransferProgress> {
  for (let poll = 0; poll < 1200; poll++) {
    const description = await handle.describe();
    for (const activity of description.raw.pendingActivities ?? []) {
      const payload = activity.heartbeatDetails?.payloads?.[0];
      if (activity.activityType?.name !== 'transferRange' || !payload) continue;
      const progress = defaultPayloadConverter.fromPayload<TransferProgress>(payload);
      if (progress.bytesCommitted > 0 && progress.bytesCommitted < progress.bytesTotal) return progress;
    }
    await sleep(100);
  }
  throw new Error('no range got midway');
}

/** Waits until the pending range's last attempt failed with a message matching `pattern`; returns it and its code. */
async function failedRange(handle: WorkflowHandle, pattern = /./): Promise<{ lastFailure: string; code: unknown }> {
  for (let poll = 0; poll < 300; poll++) {
    const description = await handle.describe();
    const range = (description.raw.pendingActivities ?? []).find(
      (activity) => activity.activityType?.name === 'transferRange',
    );
    const lastFailure = range?.lastFailure?.message ?? '';
    if (pattern.test(lastFailure)) {
      const details = range!.lastFailure!.applicationFailureInfo?.details?.payloads?.[0];
      const code = details ? defaultPayloadConverter.fromPayload<{ code?: unknown }>(details).code : undefined;
      return { lastFailure, code };
    }
    await sleep(100);
  }
  throw new Error(`the range did not fail with ${pattern}`);
}

interface HostProcess {
  pid: number;
  ppid: number;
  user: string;
  args: string;
}

/** Live processes; zombies count as gone (the lab's init reaps late). */
async function processTable(): Promise<HostProcess[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,ppid=,user:32=,stat=,args=']);
  return stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null && !match[4]!.startsWith('Z'))
    .map(([, pid, ppid, user, , args]) => ({ pid: Number(pid), ppid: Number(ppid), user: user!, args: args! }));
}

/**
 * The sshd session process (`sshd: <user>@notty`) serving the connection that runs a `dd`
 * of the relay: its pooled connection carries nothing else while the range is leased.
 * Polls, since between two batches no `dd` runs.
 */
async function relaySession(hostName: string, isRelayDd: (args: string) => boolean): Promise<number> {
  const user = lab.host(hostName).user;
  for (let poll = 0; poll < 100; poll++) {
    const table = await processTable();
    const byPid = new Map(table.map((process) => [process.pid, process]));
    for (const dd of table.filter(
      (process) => process.user === user && process.args.startsWith('dd ') && isRelayDd(process.args),
    )) {
      for (let ancestor = byPid.get(dd.ppid); ancestor; ancestor = byPid.get(ancestor.ppid)) {
        if (ancestor.user === user && ancestor.args === `sshd: ${user}@notty`) return ancestor.pid;
      }
    }
    await sleep(100);
  }
  throw new Error(`no relay dd in an sshd session of ${user}`);
}

async function killAndWait(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  while ((await processTable()).some((process) => process.pid === pid)) await sleep(50);
}

function sshdDir(hostName: string): string {
  return path.join(lab.file.labDir, 'sshd', hostName);
}

async function sshdPid(hostName: string): Promise<number | undefined> {
  const text = await readFile(path.join(sshdDir(hostName), 'sshd.pid'), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return (await processTable()).some((process) => process.pid === pid && process.args.includes(sshdDir(hostName)))
    ? pid
    : undefined;
}

/** Takes a host's sshd down the way a crashed or stopped daemon is: the listener and every connection it served. */
async function stopSshd(hostName: string): Promise<void> {
  const listener = await sshdPid(hostName);
  if (listener === undefined) throw new Error(`host ${hostName}'s sshd is not running`);
  await killAndWait(listener);
  // Only this host's sshd lets its user in, so these are exactly the connections it served:
  // the unprivileged session processes first, then their monitors.
  const user = lab.host(hostName).user;
  const sessions = (await processTable()).filter((process) => process.args.startsWith(`sshd: ${user}`));
  for (const session of sessions.sort((one, other) => Number(one.user !== user) - Number(other.user !== user))) {
    await killAndWait(session.pid).catch(() => undefined);
  }
}

/** Starts a host's sshd as scripts/lab/up does, unless it runs; resolves once it accepts connections. */
async function startSshd(hostName: string): Promise<void> {
  if ((await sshdPid(hostName)) === undefined) {
    const dir = sshdDir(hostName);
    await run('/usr/sbin/sshd', ['-f', path.join(dir, 'sshd_config'), '-E', path.join(dir, 'sshd.log')]);
  }
  for (let poll = 0; !(await accepts(hostName)); poll++) {
    if (poll > 100) throw new Error(`host ${hostName}'s sshd does not accept connections`);
    await sleep(100);
  }
}

/** Whether something accepts TCP connections on the host's SSH address. */
function accepts(hostName: string): Promise<boolean> {
  const host = lab.host(hostName);
  return new Promise((resolve) => {
    const socket = connect({ host: host.address, port: host.port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function removeFromDestination(newName: string): Promise<void> {
  await lab.virsh('b', 'destroy', '--domain', newName).catch(() => undefined);
  await lab.virsh('b', 'undefine', '--nvram', '--domain', newName).catch(() => undefined);
  for (const leftover of await leftoversOf(lab, 'b', newName)) {
    if (leftover.startsWith('/')) await rm(leftover, { recursive: true, force: true });
  }
}

async function inOrder(steps: (() => unknown)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A relay clone that resumed and verified, with both hosts as they should be after it. */
async function expectResumedAndVerified(
  clone: Awaited<ReturnType<typeof relayClone>>,
  committedAtFault: number,
): Promise<CloneResult> {
  const result = await clone.client.result<CloneResult>(clone.handle.workflowId);
  expect(result.success).toBe(true);
  for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
  // The retry started after the batches the destination had confirmed, not from the range's start.
  expect(result.bytesResumed).toBeGreaterThanOrEqual(committedAtFault);
  // Only the range whose connection was cut was tried again.
  const attempts = await activityAttempts(clone.handle);
  expect(Math.max(...attempts.get('transferRange')!)).toBeGreaterThan(1);
  for (const [type, tries] of attempts) if (type !== 'transferRange') expect(tries, type).toEqual(tries.map(() => 1));

  expect(await fingerprintSource(lab, 'a', clone.vm)).toEqual(clone.before);
  const expected = [`domain ${clone.newName}`, ...result.files.map((file) => file.destinationPath)];
  const leftovers = await leftoversOf(lab, 'b', clone.newName);
  expect(leftovers.sort()).toEqual(expected.sort());
  expect(leftovers.filter((file) => file.endsWith('.part'))).toEqual([]);
  expect(await settledStrayProcesses(lab)).toEqual([]);
  return result;
}

describe('link faults during a relay clone', () => {
  it('a clone whose source SSH session is killed mid-range resumes after the last confirmed batch and verifies', async () => {
    const clone = await relayClone('cut-source');
    const atFault = await midRange(clone.handle);
    await killAndWait(await relaySession('a', (args) => args.includes(`if=${clone.vm.dataPath} `)));

    // The cut attempt fails as the source's read, with a code the retry policy retries.
    const cut = await failedRange(clone.handle);
    expect(cut.lastFailure).toContain(`${lab.host('a').user}@`);
    expect(cut.lastFailure).toContain(`reading ${clone.vm.dataPath} failed`);
    expect(cut.code).toBe(ErrorCode.TRANSFER_ERROR);

    await expectResumedAndVerified(clone, atFault.bytesCommitted);
  });

  it('a clone whose destination SSH session is killed mid-range resumes after the last confirmed batch and verifies', async () => {
    const clone = await relayClone('cut-destination');
    const atFault = await midRange(clone.handle);
    await killAndWait(
      await relaySession('b', (args) => args.includes(`of=${lab.host('b').storageDir}/${clone.newName}`)),
    );

    // The cut attempt fails as the destination's write, with a code the retry policy retries.
    const cut = await failedRange(clone.handle);
    expect(cut.lastFailure).toContain(`${lab.host('b').user}@`);
    expect(cut.lastFailure).toContain(`writing ${lab.host('b').storageDir}/${clone.newName}`);
    expect(cut.code).toBe(ErrorCode.TRANSFER_ERROR);

    await expectResumedAndVerified(clone, atFault.bytesCommitted);
  });

  it('a clone whose destination sshd is down for 60 s mid-range keeps retrying the range, then resumes and verifies once it is back', async () => {
    const clone = await relayClone('sshd-down');
    const atFault = await midRange(clone.handle);
    const downSince = Date.now();
    await stopSshd('b');
    expect(await accepts('b')).toBe(false);

    // While b is down the range's retries cannot connect (1002, retried too); nothing gives up.
    const refused = await failedRange(clone.handle, /cannot connect/);
    expect(refused.lastFailure).toContain(`${lab.host('b').user}@`);
    expect(refused.code).toBe(ErrorCode.CONNECTION_ERROR);
    await sleep(downSince + 60_000 - Date.now());
    expect((await clone.handle.describe()).status.name).toBe('RUNNING');
    await startSshd('b');

    await expectResumedAndVerified(clone, atFault.bytesCommitted);
  });
});
