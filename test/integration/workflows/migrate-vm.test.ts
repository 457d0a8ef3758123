import { readdir } from 'node:fs/promises';
import { describe, expect, inject, it } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { eventually } from '../../helpers/cli';
import { guestWriterScript, lastWriterRecord, waitForWriter } from '../../helpers/guest-writer';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());

async function startWriter(vm: LabVm): Promise<void> {
  await lab.virsh('a', 'start', '--domain', vm.name);
  await waitForWriter(`${vm.dir}/console.log`);
}

async function checkpointsOf(vmName: string): Promise<string[]> {
  return (await lab.virsh('a', 'checkpoint-list', '--domain', vmName, '--name')).split('\n').filter(Boolean);
}

describe('migrateVM on the lab hosts', () => {
  it("moves a running VM whose guest keeps writing: the copy runs on the destination with the guest's last writes", async () => {
    const name = uniqueVmName('migrate');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, dataSize: '256M', fillMib: 64 });
    const source = parseDomainXml(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name));
    await startWriter(vm);
    try {
      const beforeMigration = await lastWriterRecord(`${vm.dir}/data.img`);
      // TCG and a loaded machine: a sync costs seconds of fixed work, so allow a minute.
      const result = await testEnvironment().client.migrate({
        source: 'a',
        destination: 'b',
        vmName: name,
        maxDowntime: 60,
      });

      expect(result.passes[0]!.kind).toBe('clone');
      expect(result.passes.at(-1)!.kind).toBe('final');
      expect(result.passes.filter((pass) => pass.kind === 'sync').length).toBeGreaterThanOrEqual(1);
      expect(result.downtimeSeconds).toBeGreaterThan(0);
      expect(result.downtimeSeconds).toBeLessThan(result.durationSeconds);
      expect(result.sourceKept).toBe(false);
      // The source is undefined, its files kept; the copy runs with its identity.
      expect(await lab.domainState('a', name)).toBeUndefined();
      expect(await lab.domainState('b', name)).toBe('running');
      const copy = parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', name));
      expect(copy.uuid).toBe(source.uuid);
      expect(copy.interfaces.map((nic) => nic.mac)).toEqual(source.interfaces.map((nic) => nic.mac));

      // The guest's last write before the pause is in the copy: the copy boots, then stops before its
      // own writer (which counts again from 0) could pass it.
      const lastOnSource = await lastWriterRecord(`${vm.dir}/data.img`);
      // The guest wrote while it was migrated, however fast the hosts made the migration.
      expect(lastOnSource).toBeGreaterThan(beforeMigration);
      await waitForWriter(`${lab.host('b').storageDir}/${name}-console.log`);
      await lab.virsh('b', 'destroy', '--domain', name);
      const copiedData = copy.disks.find((disk) => disk.target === 'vdb')!.sourcePath!;
      expect(await lastWriterRecord(copiedData)).toBe(lastOnSource);
    } finally {
      if ((await lab.domainState('a', name)) === 'running') await lab.virsh('a', 'destroy', '--domain', name);
      if ((await lab.domainState('b', name)) === 'running') await lab.virsh('b', 'destroy', '--domain', name);
    }
  });

  it('cancelled while it holds the cutover: the source runs on as it was, the copy and checkpoints are gone', async () => {
    const name = uniqueVmName('migcancel');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, dataSize: '256M', fillMib: 32 });
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    await startWriter(vm);
    try {
      const client = testEnvironment().client;
      const handle = await client.startMigrate({ source: 'a', destination: 'b', vmName: name, holdCutover: true });
      await eventually(
        async () => (await client.migration(handle.workflowId)).phase === 'waiting',
        'the hold',
        300_000,
      );
      expect(await checkpointsOf(name)).toHaveLength(1);
      await client.cancel(handle.workflowId);

      await expect(client.result(handle.workflowId)).rejects.toMatchObject({
        code: ErrorCode.OPERATION_CANCELLED_ERROR,
      });
      expect(await lab.domainState('a', name)).toBe('running');
      expect(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name)).toBe(originalXml);
      expect(await checkpointsOf(name)).toEqual([]);
      expect((await readdir(vm.dir)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
      expect(await lab.domainState('b', name)).toBeUndefined();
      expect((await readdir(lab.host('b').storageDir)).filter((file) => file.startsWith(`${name}-`))).toEqual([]);
    } finally {
      if ((await lab.domainState('a', name)) === 'running') await lab.virsh('a', 'destroy', '--domain', name);
    }
  });
});
