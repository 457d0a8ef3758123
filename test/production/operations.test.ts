import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../helpers/lab';
import { sha256OfFile } from '../helpers/local-files';
import { startTestEnvironment, type TestEnvironment } from '../helpers/temporal';

// The production project's global setup puts the Temporal server on PostgreSQL behind
// inject('temporalAddress'); everything else is the integration tests' machinery.
const lab = new Lab(inject('labFile'));
let env: TestEnvironment;
let vm: LabVm;
const copies = new Map<string, string>();

/** Overwrites 1 MiB in the middle of a file with random bytes. */
async function scribble(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const { size } = await handle.stat();
    await handle.write(randomBytes(1024 * 1024), 0, 1024 * 1024, Math.floor(size / 2 / 4096) * 4096);
  } finally {
    await handle.close();
  }
}

beforeAll(async () => {
  env = await startTestEnvironment(lab.aliases());
  vm = await lab.makeVm('a', uniqueVmName('prod'), { dataSize: '256M', fillMib: 32 });
});

afterAll(async () => {
  if (env) {
    for (const schedule of await env.client.listSchedules().catch(() => []))
      await env.client.deleteSchedule(schedule.name).catch(() => undefined);
    await env.stop();
  }
  if (vm) {
    await lab.removeVm('a', vm).catch(() => undefined);
    await lab.virsh('b', 'undefine', '--nvram', '--domain', vm.name).catch(() => undefined);
    await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${vm.name}*`).catch(() => undefined);
  }
});

describe('kvm-clone on the production Temporal server (PostgreSQL, the shipped config)', () => {
  it('clones a VM, verified, and lists the operation from the PostgreSQL visibility store', async () => {
    const handle = await env.client.startClone({ source: 'a', destination: 'b', vmName: vm.name, newName: vm.name });
    const result = await env.client.result(handle.workflowId);

    expect(result.success).toBe(true);
    expect(result.files.map((file) => file.target).sort()).toEqual(['vda', 'vdb']);
    for (const file of result.files) {
      expect(file.digest?.destination).toBe(file.digest?.source);
      copies.set(file.target, file.destinationPath);
    }
    expect(await lab.domainState('b', vm.name)).toBe('shut off');
    await eventually(
      async () =>
        (await env.client.listOperations({ filter: 'all' })).some(
          (operation) => operation.operationId === handle.workflowId && operation.state === 'COMPLETED',
        ),
      'the finished clone in the operation list',
      30_000,
    );
  });

  it('syncs the copy after the source changed, bit for bit', async () => {
    await scribble(vm.dataPath);

    const result = await env.client.sync({ source: 'a', destination: 'b', vmName: vm.name });

    expect(result.success).toBe(true);
    expect(result.files.find((file) => file.target === 'vdb')?.action).toBe('updated');
    expect(result.bytesTransferred).toBeGreaterThan(0);
    expect(await sha256OfFile(copies.get('vdb')!)).toBe(await sha256OfFile(vm.dataPath));
    expect(await sha256OfFile(copies.get('vda')!)).toBe(await sha256OfFile(vm.rootPath));
  });

  it('runs a scheduled sync on trigger (Temporal Schedules), and records the run', async () => {
    const name = `nightly-${vm.name}`;
    await scribble(vm.dataPath);
    await env.client.createSchedule({
      name,
      cron: '0 2 * * *',
      action: { kind: 'sync', input: { source: 'a', destination: 'b', vmName: vm.name } },
    });
    await env.client.triggerSchedule(name);
    await eventually(
      async () => (await env.client.describeSchedule(name)).recentRuns[0]?.state === 'COMPLETED',
      'the triggered sync to finish',
      120_000,
    );

    const described = await env.client.describeSchedule(name);
    expect(described).toMatchObject({ kind: 'sync', actionsTaken: 1, paused: false });
    expect(described.recentRuns[0]!.result?.success).toBe(true);
    expect(described.nextRuns.length).toBeGreaterThan(0);
    expect(await sha256OfFile(copies.get('vdb')!)).toBe(await sha256OfFile(vm.dataPath));
    await env.client.deleteSchedule(name);
  });
});
