import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import {
  guestWriterScript,
  lastWriterRecord,
  waitForWriter,
  idleWithGuestAgentScript,
  writeStopFlag,
} from '../../helpers/guest-writer';
import { readFile, writeFile } from 'node:fs/promises';
import { useTestEnvironment, waitForCopying } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());
async function startWriter(vm: LabVm): Promise<void> {
  await lab.virsh('a', 'start', '--domain', vm.name);
  await waitForWriter(`${vm.dir}/console.log`);
}

async function agentAnswer(name: string): Promise<string> {
  return lab
    .virsh('a', 'qemu-agent-command', '--timeout', '15', '--domain', name, '{"execute":"guest-ping"}')
    .catch((error: Error) => error.message);
}

/**
 * Boots a VM whose run script starts the stand-in agent, until libvirt reaches it. libvirt
 * misses a port opened before it attached; the agent reopens its port until libvirt's first
 * request (test/fixtures/guest-agent.sh), and a fresh boot is the fallback.
 */
async function startWithAnsweringAgent(vm: LabVm): Promise<void> {
  const boots: string[] = [];
  for (let boot = 0; boot < 3; boot++) {
    await writeFile(`${vm.dir}/console.log`, '');
    await lab.virsh('a', 'start', '--domain', vm.name);
    // Up to 60 s a boot: under TCG on a loaded machine (a coverage run of the suite) the guest boots and answers slowly.
    let answer = '(the agent never opened its port)';
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      if ((await readFile(`${vm.dir}/console.log`, 'utf8').catch(() => '')).includes('KVMCLONE-AGENT-OPEN')) {
        answer = await agentAnswer(vm.name);
        if (answer.includes('return')) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const guestConsole = await readFile(`${vm.dir}/console.log`, 'utf8').catch(() => '');
    boots.push(`boot ${boot + 1}: ${answer.trim()}; console ends: ${guestConsole.split('\n').slice(-6).join(' | ')}`);
    await lab.virsh('a', 'destroy', '--domain', vm.name);
  }
  throw new Error(`libvirt never reached the guest agent of ${vm.name}:\n${boots.join('\n')}`);
}

/** The source ended as it began: on its own files, with no overlay left beside them. */
async function expectSourceRestored(vm: LabVm, originalXml: string): Promise<void> {
  const live = parseDomainXml(await lab.virsh('a', 'dumpxml', '--domain', vm.name));
  const persistent = parseDomainXml(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name));
  const original = parseDomainXml(originalXml);
  expect(live.disks.map((disk) => disk.sourcePath)).toEqual(original.disks.map((disk) => disk.sourcePath));
  expect(persistent.disks.map((disk) => disk.sourcePath)).toEqual(original.disks.map((disk) => disk.sourcePath));
  expect((await readdir(vm.dir)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
}

describe('cloneVM of a running VM', () => {
  it('copies a running guest that keeps writing, merges the source back, and the copy boots', async () => {
    const name = uniqueVmName('live');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, dataSize: '256M', fillMib: 96 });
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    await startWriter(vm);
    try {
      const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });

      expect(result).toMatchObject({ success: true, consistency: 'crash-consistent' });
      for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
      expect(await lab.domainState('a', name)).toBe('running');
      await expectSourceRestored(vm, originalXml);

      // Writes made after the snapshot went to the overlay and were merged into the source's base.
      const copiedData = result.files.find((file) => file.target === 'vdb')!.destinationPath;
      const recordsInCopy = await lastWriterRecord(copiedData);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await lab.virsh('a', 'destroy', '--domain', name);
      expect(await lastWriterRecord(`${vm.dir}/data.img`)).toBeGreaterThan(recordsInCopy);

      await writeStopFlag(copiedData);
      const consoleLog = `${lab.host('b').storageDir}/${name}_clone-console.log`;
      const console = await lab.bootAndReadConsole('b', `${name}_clone`, consoleLog);
      expect(console).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);
      expect(console).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
    } finally {
      if ((await lab.domainState('a', name)) === 'running') await lab.virsh('a', 'destroy', '--domain', name);
    }
  });

  it('cancelling the clone of a running VM merges the source back and cleans the destination', async () => {
    const name = uniqueVmName('livecancel');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, dataSize: '4G', fillMib: 1536 });
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    await startWriter(vm);
    try {
      const client = testEnvironment().client;
      const handle = await client.startClone({ source: 'a', destination: 'b', vmName: name, parallel: 1 });
      await waitForCopying(client, handle.workflowId);
      await client.cancel(handle.workflowId);

      await expect(client.result(handle.workflowId)).rejects.toMatchObject({
        code: ErrorCode.OPERATION_CANCELLED_ERROR,
      });
      expect(await lab.domainState('a', name)).toBe('running');
      await expectSourceRestored(vm, originalXml);
      expect((await readdir(lab.host('b').storageDir)).filter((file) => file.startsWith(`${name}_clone`))).toEqual([]);
      expect(await lab.domainState('b', `${name}_clone`)).toBeUndefined();
    } finally {
      if ((await lab.domainState('a', name)) === 'running') await lab.virsh('a', 'destroy', '--domain', name);
    }
  });

  it('falls back to a crash-consistent copy, with a warning, when the agent answers but cannot freeze', async () => {
    const name = uniqueVmName('nofreeze');
    const vm = await lab.makeVm('a', name, {
      runScript: await idleWithGuestAgentScript({ refusesFreeze: true }),
      guestAgent: true,
    });
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    try {
      await startWithAnsweringAgent(vm);
      const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });
      expect(result.consistency).toBe('crash-consistent');
      expect(result.warnings.join('\n')).toContain('the guest agent could not freeze filesystems');
      for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
      expect(await readFile(`${vm.dir}/console.log`, 'utf8')).toContain('KVMCLONE-AGENT-REFUSED');
      await expectSourceRestored(vm, originalXml);
    } finally {
      if ((await lab.domainState('a', name)) === 'running') await lab.virsh('a', 'destroy', '--domain', name);
    }
  }, 480_000);

  it('freezes the guest filesystems through its agent, so the copy is quiesced', async () => {
    const name = uniqueVmName('quiesce');
    const vm = await lab.makeVm('a', name, { runScript: await idleWithGuestAgentScript(), guestAgent: true });
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    try {
      await startWithAnsweringAgent(vm);
      const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });
      expect(result.consistency).toBe('quiesced');
      for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
      const guestConsole = await readFile(`${vm.dir}/console.log`, 'utf8');
      expect(guestConsole).toContain('KVMCLONE-AGENT-FROZEN');
      expect(guestConsole).toContain('KVMCLONE-AGENT-THAWED');
      await expectSourceRestored(vm, originalXml);
    } finally {
      if ((await lab.domainState('a', name)) === 'running') await lab.virsh('a', 'destroy', '--domain', name);
    }
  }, 480_000);
});
