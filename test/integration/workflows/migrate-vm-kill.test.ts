import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { KvmCloneClient } from '../../../src/client';
import type { MigrateResult } from '../../../src/domain/migration';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { eventually } from '../../helpers/cli';
import { guestWriterScript, lastWriterRecord, waitForWriter } from '../../helpers/guest-writer';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { activityAttempts, WorkerProcesses } from '../../helpers/worker-processes';

const lab = new Lab(inject('labFile'));
const taskQueue = `migrate-kill-${randomUUID()}`;
let connection: Connection;
let client: KvmCloneClient;
const workers = new WorkerProcesses(lab);

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new KvmCloneClient(new Client({ connection }), taskQueue);
});

afterEach(() => workers.killAll());

afterAll(async () => {
  await workers.killAll();
  await connection.close();
});

describe('a migration survives a killed worker', () => {
  it('a worker SIGKILLed during the final sync, with the source paused, is replaced and the cutover completes', async () => {
    const name = uniqueVmName('migkill');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, dataSize: '256M', fillMib: 32 });
    await lab.virsh('a', 'start', '--domain', name);
    await waitForWriter(`${vm.dir}/console.log`);
    const first = await workers.start({ taskQueue });
    try {
      const handle = await client.startMigrate({
        source: 'a',
        destination: 'b',
        vmName: name,
        holdCutover: true,
      });
      await eventually(
        async () => (await client.migration(handle.workflowId)).phase === 'waiting',
        'the hold',
        300_000,
      );
      // The final sync's first range attempts do their work on a worker that then holds until it is
      // killed: the kill lands inside the final sync however fast the hosts are.
      await first.kill();
      const holding = await workers.start({ taskQueue, holdAfter: ['syncRange'] });
      await client.cutover(handle.workflowId);
      await holding.printed('HELD syncRange');
      const progress = await client.migration(handle.workflowId);
      expect(progress.phase).toBe('cutover');
      const finalId = `${handle.workflowId}-${progress.passes.length + 1}-final`;
      await holding.kill();
      expect(await lab.domainState('a', name)).toBe('paused');

      await workers.start({ taskQueue });
      const result = await client.result<MigrateResult>(handle.workflowId);

      expect(result.passes.at(-1)).toMatchObject({ kind: 'final', operationId: finalId });
      const attempts = await activityAttempts(client.temporal.workflow.getHandle(finalId));
      expect(Math.max(...(attempts.get('syncRange') ?? [1]))).toBeGreaterThan(1);
      expect(await lab.domainState('a', name)).toBeUndefined();
      expect(await lab.domainState('b', name)).toBe('running');
      const copy = parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', name));
      const lastOnSource = await lastWriterRecord(`${vm.dir}/data.img`);
      await lab.virsh('b', 'destroy', '--domain', name);
      expect(await lastWriterRecord(copy.disks.find((disk) => disk.target === 'vdb')!.sourcePath!)).toBe(lastOnSource);
    } finally {
      for (const host of ['a', 'b'] as const)
        if ((await lab.domainState(host, name)) === 'running') await lab.virsh(host, 'destroy', '--domain', name);
    }
  });

  it("a worker SIGKILLed during a live migration is replaced, and the new one follows libvirt's job to its end", async () => {
    const name = uniqueVmName('migkill-live');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, dataSize: '256M', fillMib: 32 });
    await lab.virsh('a', 'start', '--domain', name);
    await waitForWriter(`${vm.dir}/console.log`);
    const hosts = lab.aliasesForLiveMode('a', 'b');
    const first = await workers.start({ taskQueue, hosts });
    try {
      // 16 MiB/s: libvirt's mirror of the disks (288 MiB) takes about 20 s, long enough to kill the worker in it.
      const handle = await client.startMigrate({
        source: 'a',
        destination: 'b',
        vmName: name,
        mode: 'live',
        bandwidthLimit: '16M',
      });
      await eventually(
        async () => (await lab.virsh('a', 'domjobinfo', '--domain', name)).includes('Unbounded'),
        "libvirt's migration job",
        120_000,
      );
      await first.kill();

      await workers.start({ taskQueue, hosts });
      const result = await client.result<MigrateResult>(handle.workflowId);

      expect(result).toMatchObject({ mode: 'live' });
      const attempts = await activityAttempts(client.temporal.workflow.getHandle(handle.workflowId));
      expect(Math.max(...(attempts.get('liveMigrate') ?? [1]))).toBeGreaterThan(1);
      expect(await lab.domainState('a', name)).toBeUndefined();
      expect(await lab.domainState('b', name)).toBe('running');
      const copy = parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', name));
      const copiedData = copy.disks.find((disk) => disk.target === 'vdb')!.sourcePath!;
      const lastOnSource = await lastWriterRecord(`${vm.dir}/data.img`);
      await eventually(
        async () => (await lastWriterRecord(copiedData)) > lastOnSource + 2,
        'the writer going on in the destination',
        60_000,
      );
    } finally {
      for (const host of ['a', 'b'] as const)
        if ((await lab.domainState(host, name)) === 'running') await lab.virsh(host, 'destroy', '--domain', name);
    }
  });
});
