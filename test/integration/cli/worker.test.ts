import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cloneResultDocument } from '../../helpers/cli-documents';
import { eventually, jsonLines, kvmClone, spawnKvmClone, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
let dir: string;
let config: string;
let vm: LabVm;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-worker-'));
  // A queue no other worker polls: only the `kvm-clone worker` process can run this clone.
  config = await writeLabConfig(lab, path.join(dir, 'config.yaml'), {
    address: inject('temporalAddress'),
    taskQueue: `cli-worker-${randomUUID()}`,
  });
  vm = await lab.makeVm('a', uniqueVmName('worker'));
});

afterAll(async () => {
  if (vm) await lab.removeVm('a', vm);
  await lab.virsh('b', 'undefine', '--domain', `${vm.name}-w`).catch(() => undefined);
  await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${vm.name}-w-*`).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('kvm-clone worker (the real CLI binary)', () => {
  it('runs clones started by other processes, and stops cleanly on SIGTERM', async () => {
    const worker = spawnKvmClone(['-c', config, 'worker']);
    try {
      await eventually(
        () => worker.output.stderr.includes('worker polling task queue'),
        'the worker to start',
        120_000,
      );
      const { code, stdout, stderr } = await kvmClone([
        '-c',
        config,
        '-o',
        'json',
        'clone',
        'a',
        'b',
        vm.name,
        '--new-name',
        `${vm.name}-w`,
      ]);
      expect(stderr).not.toContain('error');
      expect(code).toBe(0);
      expect(cloneResultDocument.parse(jsonLines(stdout).at(-1)).newName).toBe(`${vm.name}-w`);
      expect(await lab.domainState('b', `${vm.name}-w`)).toBe('shut off');
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
    expect(worker.output.stderr).toContain('worker stopped');
  });
});
