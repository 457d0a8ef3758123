/**
 * The source VM changes under a clone: a running one is stopped, a shut-off one is
 * undefined, or started. A copy of a VM that stopped, vanished or ran while an offline copy
 * read it is not the VM the operator asked for: the clone must fail with a code that says
 * what happened, leave nothing on the destination, and give the source back as it is now
 * (a live source merged back onto its own disks).
 */
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseDomainXml } from '../../src/domain/domain-xml';
import { ErrorCode } from '../../src/errors';
import { guestWriterScript, waitForWriter } from '../helpers/guest-writer';
import { fingerprintSource, leftoversOf, settledStrayProcesses } from '../helpers/host-state';
import { Lab, uniqueVmName, type LabVm } from '../helpers/lab';
import { useTestEnvironment, waitForCopying } from '../helpers/temporal';

const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());
const vms: LabVm[] = [];

afterEach(async () => {
  for (const vm of vms.splice(0)) await lab.removeVm('a', vm);
});

/** A source VM for one test, removed after it whatever happens. */
async function sourceVm(prefix: string, options: Parameters<Lab['makeVm']>[2] = {}): Promise<LabVm> {
  const vm = await lab.makeVm('a', uniqueVmName(prefix), { dataSize: '2G', fillMib: 512, ...options });
  vms.push(vm);
  return vm;
}

/** Starts a clone slow enough to be caught mid-copy, and waits until its first bytes are copied. */
async function cloneMidCopy(vm: LabVm, options: { verify?: boolean; bandwidthLimit?: string } = {}): Promise<string> {
  const { client } = testEnvironment();
  const handle = await client.startClone({
    source: 'a',
    destination: 'b',
    vmName: vm.name,
    parallel: 1,
    bandwidthLimit: '40M',
    ...options,
  });
  await waitForCopying(client, handle.workflowId);
  return handle.workflowId;
}

/** Waits until a guest that powers itself off is shut off. */
async function shutOff(vm: LabVm): Promise<void> {
  for (let poll = 0; poll < 300; poll++) {
    if ((await lab.domainState('a', vm.name)) === 'shut off') return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${vm.name} did not power off`);
}

/** What every case leaves: nothing of the clone on b, and no command of it still running. */
async function expectNothingLeft(vm: LabVm): Promise<void> {
  expect(await leftoversOf(lab, 'b', `${vm.name}_clone`)).toEqual([]);
  expect(await settledStrayProcesses(lab)).toEqual([]);
}

/** The source runs on its own files again: no overlay in either definition or beside its disks. */
async function expectOnOwnDisks(vm: LabVm, originalXml: string): Promise<void> {
  const original = parseDomainXml(originalXml).disks.map((disk) => disk.sourcePath);
  for (const xml of [
    await lab.virsh('a', 'dumpxml', '--domain', vm.name),
    await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name),
  ])
    expect(parseDomainXml(xml).disks.map((disk) => disk.sourcePath)).toEqual(original);
  expect((await readdir(vm.dir)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
}

describe('a source VM that changes during the clone', () => {
  it('a running source destroyed mid-copy: 1200, merged back onto its own disks, nothing on b', async () => {
    const vm = await sourceVm('gonelive', { runScript: guestWriterScript });
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name);
    await lab.virsh('a', 'start', '--domain', vm.name);
    await waitForWriter(`${vm.dir}/console.log`);
    const operationId = await cloneMidCopy(vm);

    await lab.virsh('a', 'destroy', '--domain', vm.name);

    await expect(testEnvironment().client.result(operationId)).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: expect.stringMatching(/stopped during the copy/),
    });
    expect(await lab.domainState('a', vm.name)).toBe('shut off');
    await expectOnOwnDisks(vm, originalXml);
    await expectNothingLeft(vm);
  });

  it('a shut-off source undefined mid-copy: 1003, its files untouched, nothing on b', async () => {
    const vm = await sourceVm('goneundef');
    const before = await fingerprintSource(lab, 'a', vm);
    const operationId = await cloneMidCopy(vm);

    await lab.virsh('a', 'undefine', '--domain', vm.name);

    await expect(testEnvironment().client.result(operationId)).rejects.toMatchObject({
      code: ErrorCode.VM_NOT_FOUND_ERROR,
      message: expect.stringMatching(/undefined during the copy/),
    });
    expect(await lab.domainState('a', vm.name)).toBeUndefined();
    // Its disks as they were (undefine keeps a domain's files, and the clone only read them), defined again to compare.
    await lab.sshAs('a', `virsh -q -c ${lab.host('a').libvirtUri} define --file /dev/stdin`, before.xml);
    expect(await fingerprintSource(lab, 'a', vm)).toEqual(before);
    await expectNothingLeft(vm);
  });

  it('a shut-off source started mid-copy: 1200 (an offline copy of a running VM is inconsistent), nothing on b', async () => {
    const vm = await sourceVm('gonestart', { runScript: guestWriterScript });
    const xml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name);
    const operationId = await cloneMidCopy(vm);

    await lab.virsh('a', 'start', '--domain', vm.name);

    await expect(testEnvironment().client.result(operationId)).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: expect.stringMatching(/started during the copy/),
    });
    // The clone left the source alone: still running as the test started it, on its own disks.
    expect(await lab.domainState('a', vm.name)).toBe('running');
    await expectOnOwnDisks(vm, xml);
    await expectNothingLeft(vm);
  });

  it('a shut-off source started and shut off again mid-copy, without verification: 1200, its files changed, nothing on b', async () => {
    // The lab's guest mounts its root filesystem (a write), prints its markers and powers off.
    const vm = await sourceVm('gonebounce');
    // Without digests nothing compares the copy with the source: only the source's file stamps tell.
    const operationId = await cloneMidCopy(vm, { verify: false, bandwidthLimit: '20M' });

    await lab.bootAndReadConsole('a', vm.name, `${vm.dir}/console.log`);
    await shutOff(vm);

    await expect(testEnvironment().client.result(operationId)).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: expect.stringMatching(/the files of VM .* changed during the copy of it shut off \(.*root\.qcow2\)/),
    });
    await expectNothingLeft(vm);
  });
});
