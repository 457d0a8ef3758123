/**
 * The destination fills up during the copy: the space preflight promised is taken by
 * another writer after it. The clone must stop with a code that says so, remove its
 * partial files, and leave the source as it was (a running source merged back).
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { spaceMargin } from '../../src/activities/check-destination';
import { parseDomainXml } from '../../src/domain/domain-xml';
import { ErrorCode } from '../../src/errors';
import { guestWriterScript, waitForWriter } from '../helpers/guest-writer';
import { fingerprintSource, leftoversOf, settledStrayProcesses } from '../helpers/host-state';
import { Lab, uniqueVmName, type LabVm } from '../helpers/lab';
import { useTestEnvironment, waitForCopying } from '../helpers/temporal';

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());
const MiB = 1024 * 1024;

const mounted: string[] = [];
const vms: LabVm[] = [];

async function unmountAll(): Promise<void> {
  for (const dir of mounted.splice(0)) {
    // Lazy: a process of a failed test may still hold a file there; the mount goes once it lets go.
    await run('umount', ['--lazy', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

afterEach(async () => {
  for (const vm of vms.splice(0)) await lab.removeVm('a', vm);
  await unmountAll();
});

// Whatever happened in the tests, no tmpfs stays mounted in the lab.
afterAll(unmountAll);

/**
 * The bytes the preflight counts for a VM (checkDestination: the files' allocated size, as
 * qemu-img reports it) and its margin: a destination with this much free passes preflight.
 */
async function preflightBytes(vm: LabVm): Promise<number> {
  let allocated = 0;
  for (const file of [vm.rootPath, vm.dataPath]) {
    const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', file]);
    allocated += (JSON.parse(stdout) as { 'actual-size': number })['actual-size'];
  }
  return allocated + spaceMargin(allocated);
}

/**
 * A tmpfs owned by host b's user, under its scratch dir, with room for what preflight
 * requires plus a little: the clone fits before the filler comes, not after.
 */
async function smallDestination(bytes: number): Promise<string> {
  const dir = path.join(lab.scratchDir('b'), uniqueVmName('full'));
  await mkdir(dir);
  const size = Math.ceil(bytes / MiB + 16) * MiB;
  const user = lab.host('b').user;
  const ids = async (flag: string) => (await run('id', [flag, user])).stdout.trim();
  await run('mount', [
    '-t',
    'tmpfs',
    '-o',
    `size=${size},mode=0755,uid=${await ids('-u')},gid=${await ids('-g')}`,
    'kvm-clone-full',
    dir,
  ]);
  mounted.push(dir);
  return dir;
}

/** Another writer takes every free byte of the filesystem. */
async function fillUp(dir: string): Promise<void> {
  const filler = path.join(dir, 'filler');
  // dd stops at ENOSPC, with an error it is expected to report.
  await run('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M']).catch(() => undefined);
}

/** The failure a full destination must end in: 1204, saying the destination is full. */
const destinationFull = {
  code: ErrorCode.DISK_SPACE_ERROR,
  message: expect.stringMatching(/the destination is full: writing .*No space left on device/),
};

/** Clones into destDir, fills it once the copy is under way, and expects 1204 with only the filler left there. */
async function cloneIntoFillingDestination(vmName: string, destDir: string): Promise<void> {
  const { client } = testEnvironment();
  const handle = await client.startClone({
    source: 'a',
    destination: 'b',
    vmName,
    destDir,
    parallel: 1,
    bandwidthLimit: '40M',
  });
  await waitForCopying(client, handle.workflowId);
  await fillUp(destDir);
  await expect(client.result(handle.workflowId)).rejects.toMatchObject(destinationFull);
  expect(await readdir(destDir)).toEqual(['filler']);
}

describe('a destination that fills up during the copy', () => {
  it('fails with 1204, removes its partial files and leaves the shut-off source as it was', async () => {
    const name = uniqueVmName('full');
    const newName = `${name}_clone`;
    const vm = await lab.makeVm('a', name, { dataSize: '2G', fillMib: 512 });
    vms.push(vm);
    const before = await fingerprintSource(lab, 'a', vm);
    const destDir = await smallDestination(await preflightBytes(vm));

    await cloneIntoFillingDestination(name, destDir);

    expect(await leftoversOf(lab, 'b', newName)).toEqual([]);
    expect(await fingerprintSource(lab, 'a', vm)).toEqual(before);
    expect(await settledStrayProcesses(lab)).toEqual([]);
  });

  it('fails with 1204 and merges a running source back onto its own disks', async () => {
    const name = uniqueVmName('fulllive');
    const newName = `${name}_clone`;
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, dataSize: '2G', fillMib: 512 });
    vms.push(vm);
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    await lab.virsh('a', 'start', '--domain', name);
    await waitForWriter(`${vm.dir}/console.log`);
    const destDir = await smallDestination(await preflightBytes(vm));

    await cloneIntoFillingDestination(name, destDir);

    expect(await leftoversOf(lab, 'b', newName)).toEqual([]);
    // Merged back: still running, live and persistent definitions on the original files, no overlay left.
    expect(await lab.domainState('a', name)).toBe('running');
    const original = parseDomainXml(originalXml).disks.map((disk) => disk.sourcePath);
    for (const xml of [
      await lab.virsh('a', 'dumpxml', '--domain', name),
      await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name),
    ])
      expect(parseDomainXml(xml).disks.map((disk) => disk.sourcePath)).toEqual(original);
    expect((await readdir(vm.dir)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
    expect(await settledStrayProcesses(lab)).toEqual([]);
  });
});
