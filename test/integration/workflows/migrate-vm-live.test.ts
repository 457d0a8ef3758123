import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { eventually } from '../../helpers/cli';
import { guestWriterScript, lastWriterRecord, waitForWriter } from '../../helpers/guest-writer';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
const run = promisify(execFile);

// a → b as live mode can take it; b → a keeps the lab's own known_hosts file, which live mode refuses.
const testEnvironment = useTestEnvironment(lab.aliasesForLiveMode('a', 'b'));

describe('migrateVM in live mode on the lab hosts', () => {
  it('moves a running guest with virsh migrate: it keeps running and writing on the destination, no reboot', async () => {
    const name = uniqueVmName('migrate-live');
    // A root overlay on a base image: libvirt mirrors the chain into one standalone image.
    const vm = await lab.makeVm('a', name, {
      runScript: guestWriterScript,
      dataSize: '256M',
      fillMib: 32,
      backing: true,
    });
    const source = parseDomainXml(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name));
    await lab.virsh('a', 'start', '--domain', name);
    await waitForWriter(`${vm.dir}/console.log`);
    // The VM's earlier life on b left its console log there: it is taken over, not refused.
    await lab.sshAs('b', `printf 'EARLIER-LIFE\\n' > ${lab.host('b').storageDir}/${name}-console.log`);
    try {
      const result = await testEnvironment().client.migrate({
        source: 'a',
        destination: 'b',
        vmName: name,
        mode: 'live',
      });

      expect(result).toMatchObject({ mode: 'live', cutover: 'live', consistency: 'live', sourceKept: false });
      expect(result.passes).toEqual([expect.objectContaining({ kind: 'live' })]);
      // Memory and both disks: at least the data disk's 32 MiB of data went.
      expect(result.bytesTransferred).toBeGreaterThan(32 * 1024 * 1024);
      expect(result.downtimeSeconds).toBeGreaterThan(0);
      expect(result.downtimeSeconds).toBeLessThan(result.durationSeconds);
      expect(await lab.domainState('a', name)).toBeUndefined();
      expect(await lab.domainState('b', name)).toBe('running');
      const copy = parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', name));
      expect(copy.uuid).toBe(source.uuid);
      expect(copy.interfaces.map((nic) => nic.mac)).toEqual(source.interfaces.map((nic) => nic.mac));
      const copiedData = copy.disks.find((disk) => disk.target === 'vdb')!.sourcePath!;
      expect(copiedData.startsWith(`${lab.host('b').storageDir}/`)).toBe(true);
      const copiedRoot = copy.disks.find((disk) => disk.target === 'vda')!.sourcePath!;
      const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', copiedRoot]);
      expect(JSON.parse(stdout)).toMatchObject({ format: 'qcow2' });
      expect(JSON.parse(stdout)).not.toHaveProperty('backing-filename');

      // The same guest goes on where it was: its writer's count passes the source's last record
      // (a rebooted guest would count again from 0).
      const lastOnSource = await lastWriterRecord(`${vm.dir}/data.img`);
      expect(lastOnSource).toBeGreaterThan(0);
      await eventually(
        async () => (await lastWriterRecord(copiedData)) > lastOnSource + 2,
        'the writer going on in the destination',
        60_000,
      );
    } finally {
      for (const host of ['a', 'b'])
        if ((await lab.domainState(host, name)) === 'running') await lab.virsh(host, 'destroy', '--domain', name);
    }
  });

  it('cancelled while libvirt copies: the job is aborted, the source runs on unchanged, the images are gone', async () => {
    const name = uniqueVmName('migrate-live-cancel');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, dataSize: '256M', fillMib: 64 });
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    await lab.virsh('a', 'start', '--domain', name);
    await waitForWriter(`${vm.dir}/console.log`);
    // A file the migration did not create stays: only its own images and log files go.
    const earlierLog = `${name}-console.log`;
    await lab.sshAs('b', `printf 'EARLIER-LIFE\\n' > ${lab.host('b').storageDir}/${earlierLog}`);
    try {
      const client = testEnvironment().client;
      // 1 MiB/s: the disks' mirror alone takes minutes, so the cancel lands inside libvirt's job.
      const handle = await client.startMigrate({
        source: 'a',
        destination: 'b',
        vmName: name,
        mode: 'live',
        bandwidthLimit: '1M',
      });
      await eventually(
        async () => (await lab.virsh('a', 'domjobinfo', '--domain', name)).includes('Unbounded'),
        "libvirt's migration job",
        120_000,
      );
      await client.cancel(handle.workflowId);

      await expect(client.result(handle.workflowId)).rejects.toMatchObject({
        code: ErrorCode.OPERATION_CANCELLED_ERROR,
      });
      expect(await lab.domainState('a', name)).toBe('running');
      expect(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name)).toBe(originalXml);
      expect(await lab.domainState('b', name)).toBeUndefined();
      expect((await readdir(lab.host('b').storageDir)).filter((file) => file.startsWith(`${name}-`))).toEqual([
        earlierLog,
      ]);
    } finally {
      if ((await lab.domainState('a', name)) === 'running') await lab.virsh('a', 'destroy', '--domain', name);
    }
  });

  it('refuses (1001) a route with a known_hosts file of its own, leaving the source running and nothing behind', async () => {
    const name = uniqueVmName('migrate-live-route');
    await lab.makeVm('b', name, { runScript: guestWriterScript });
    await lab.virsh('b', 'start', '--domain', name);
    try {
      await expect(
        testEnvironment().client.migrate({ source: 'b', destination: 'a', vmName: name, mode: 'live' }),
      ).rejects.toMatchObject({ code: ErrorCode.CONFIGURATION_ERROR, message: /knownHostsFile.*~\/\.ssh\/config/ });
      expect(await lab.domainState('b', name)).toBe('running');
      expect(await lab.domainState('a', name)).toBeUndefined();
      expect((await readdir(lab.host('a').storageDir)).filter((file) => file.startsWith(`${name}-`))).toEqual([]);
    } finally {
      if ((await lab.domainState('b', name)) === 'running') await lab.virsh('b', 'destroy', '--domain', name);
    }
  });
});
