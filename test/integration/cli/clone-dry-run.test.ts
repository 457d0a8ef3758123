import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cloneResultDocument } from '../../helpers/cli-documents';
import { jsonLines, kvmClone, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
let env: TestEnvironment;
let dir: string;
let config: string;
let vm: LabVm;

beforeAll(async () => {
  env = await startTestEnvironment(lab.aliases());
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-dry-'));
  config = await writeLabConfig(lab, path.join(dir, 'config.yaml'), {
    address: inject('temporalAddress'),
    taskQueue: env.taskQueue,
  });
  vm = await lab.makeVm('a', uniqueVmName('dry'), { fillMib: 64 });
});

afterAll(async () => {
  await env?.stop();
  if (vm) await lab.removeVm('a', vm);
  await rm(dir, { recursive: true, force: true });
});

describe('kvm-clone clone --dry-run (the real CLI binary)', () => {
  it('prints the plan with the XML diff and changes nothing (json)', async () => {
    const { code, stdout } = await kvmClone([
      '-c',
      config,
      '-o',
      'json',
      'clone',
      'a',
      'b',
      vm.name,
      '--dry-run',
      '--new-name',
      `${vm.name}-dry`,
      '--exclude-disk',
      'vdb',
      '--timeout',
      '600',
    ]);
    expect(code).toBe(0);
    const result = cloneResultDocument.parse(jsonLines(stdout).at(-1));
    expect(result.dryRun).toBe(true);
    expect(result.plan!.files.map((file) => file.target)).toEqual(['vda']);
    expect(result.plan!.xmlDiff).toContain(`+  <name>${vm.name}-dry</name>`);
    expect(await lab.domainState('b', `${vm.name}-dry`)).toBeUndefined();
  });

  it('prints the result as one YAML document with -o yaml', async () => {
    const { code, stdout } = await kvmClone(['-c', config, '-o', 'yaml', 'clone', 'a', 'b', vm.name, '--dry-run']);
    expect(code).toBe(0);
    expect(stdout.startsWith('---\n')).toBe(true);
    expect(parse(stdout)).toMatchObject({ type: 'result', dryRun: true, newName: `${vm.name}_clone` });
  });

  it('rejects a bad flag value with its code before starting anything', async () => {
    const timeout = await kvmClone(['-c', config, '-o', 'json', 'clone', 'a', 'b', vm.name, '--timeout', 'soon']);
    expect(timeout.code).toBe(1);
    expect(JSON.parse(timeout.stdout)).toMatchObject({ type: 'error', code: 1304 });
    const bandwidth = await kvmClone(['-c', config, 'clone', 'a', 'b', vm.name, '--bandwidth-limit', 'fast']);
    expect(bandwidth.stderr).toMatch(/^kvm-clone: error 1305 \(INVALID_BANDWIDTH\): /m);
    const alias = await kvmClone(['-c', config, 'clone', 'a', 'nowhere', vm.name]);
    expect(alias.stderr).toMatch(/^kvm-clone: error 1300 \(INVALID_HOST\): .*unknown host alias 'nowhere'/m);
  });
});
