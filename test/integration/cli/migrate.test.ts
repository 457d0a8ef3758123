import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { errorDocument } from '../../helpers/cli-documents';
import { eventually, jsonLines, kvmClone, writeLabConfig } from '../../helpers/cli';
import { guestWriterScript, waitForWriter } from '../../helpers/guest-writer';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
let env: TestEnvironment;
let dir: string;
let config: string;
let vm: LabVm;

beforeAll(async () => {
  // b → a as live mode can take it: the second test moves the VM back with libvirt's live migration.
  env = await startTestEnvironment(lab.aliasesForLiveMode('b', 'a'));
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-cli-migrate-'));
  config = await writeLabConfig(lab, path.join(dir, 'config.yaml'), {
    address: inject('temporalAddress'),
    taskQueue: env.taskQueue,
  });
  vm = await lab.makeVm('a', uniqueVmName('climig'), { runScript: guestWriterScript, dataSize: '256M', fillMib: 32 });
  await lab.virsh('a', 'start', '--domain', vm.name);
  await waitForWriter(`${vm.dir}/console.log`);
});

afterAll(async () => {
  await env?.stop();
  for (const host of ['a', 'b'] as const) {
    await lab.virsh(host, 'destroy', '--domain', vm.name).catch(() => undefined);
    await lab.virsh(host, 'undefine', '--nvram', '--checkpoints-metadata', '--domain', vm.name).catch(() => undefined);
  }
  for (const host of ['a', 'b'] as const)
    await lab.sshAs(host, `rm -f ${lab.host(host).storageDir}/${vm.name}-*`).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('kvm-clone migrate and cutover (the real CLI binary)', () => {
  it('starts a held migration detached, shows its passes in status, cuts over on `cutover`, and refuses a second cutover', async () => {
    const operationId = `migrate:a:${vm.name}`;
    const started = await kvmClone(['-c', config, '-o', 'json', 'migrate', 'a', 'b', vm.name, '--hold', '--detach']);
    expect(started.stderr).not.toContain('error');
    expect(JSON.parse(started.stdout)).toEqual({ type: 'started', operationId });

    let waiting: { phase: string; held: boolean; passes: unknown[] } | undefined;
    await eventually(
      async () => {
        const status = await kvmClone(['-c', config, '-o', 'json', 'status', operationId]);
        waiting = (JSON.parse(status.stdout) as { migration?: typeof waiting }).migration;
        return waiting?.phase === 'waiting';
      },
      'the migration to wait for its cutover',
      300_000,
    );
    expect(waiting).toMatchObject({ held: true });
    expect(waiting!.passes.length).toBeGreaterThanOrEqual(2);
    expect(await lab.domainState('a', vm.name)).toBe('running');

    const cutover = await kvmClone(['-c', config, 'cutover', operationId]);
    expect(cutover.stderr).toBe('');
    expect(cutover.code).toBe(0);
    const followed = await kvmClone(['-c', config, '-o', 'json', 'status', operationId, '--follow']);
    expect(followed.code).toBe(0);
    const result = jsonLines(followed.stdout).at(-1) as unknown as {
      type: string;
      downtimeSeconds: number;
      passes: { kind: string }[];
    };
    expect(result.type).toBe('result');
    expect(result.downtimeSeconds).toBeGreaterThan(0);
    expect(result.passes.at(-1)!.kind).toBe('final');
    expect(await lab.domainState('b', vm.name)).toBe('running');
    expect(await lab.domainState('a', vm.name)).toBeUndefined();

    const again = await kvmClone(['-c', config, '-o', 'json', 'cutover', operationId]);
    expect(again.code).toBe(1);
    expect(errorDocument.parse(JSON.parse(again.stdout.trim().split('\n').at(-1)!))).toMatchObject({
      code: ErrorCode.MIGRATION_ERROR,
    });
  });

  it('moves it back with `--mode live`: libvirt migrates the running guest, and the result says so', async () => {
    expect(await lab.domainState('b', vm.name)).toBe('running');
    const moved = await kvmClone(['-c', config, '-o', 'json', 'migrate', 'b', 'a', vm.name, '--mode', 'live']);
    expect(moved.code).toBe(0);
    const result = jsonLines(moved.stdout).at(-1) as unknown as {
      type: string;
      mode: string;
      passes: { kind: string }[];
    };
    expect(result).toMatchObject({ type: 'result', mode: 'live', passes: [{ kind: 'live' }] });
    expect(await lab.domainState('a', vm.name)).toBe('running');
    expect(await lab.domainState('b', vm.name)).toBeUndefined();
  });

  it('refuses an unknown --mode as a usage error (exit 2) before anything starts', async () => {
    const refused = await kvmClone(['-c', config, 'migrate', 'a', 'b', vm.name, '--mode', 'fast']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--mode.*warm, live/);
  });
});
