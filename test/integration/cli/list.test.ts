import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { errorDocument, listDocument } from '../../helpers/cli-documents';
import { kvmClone, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
let dir: string;
let config: string;
let vm: LabVm;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-list-'));
  config = await writeLabConfig(lab, path.join(dir, 'config.yaml'));
  vm = await lab.makeVm('a', uniqueVmName('list'));
});

afterAll(async () => {
  if (vm) await lab.removeVm('a', vm);
  await rm(dir, { recursive: true, force: true });
});

describe('kvm-clone list (the real CLI binary)', () => {
  it('lists the VMs of a host live, with UUID, state, memory, vCPUs, disks and networks', async () => {
    const { code, stdout, stderr } = await kvmClone(['-c', config, '-o', 'json', 'list', 'a']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const document = listDocument.parse(JSON.parse(stdout));
    const entry = document.domains.find((domain) => domain.name === vm.name);
    expect(entry).toMatchObject({
      host: 'a',
      state: 'shut off',
      uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      vcpus: expect.any(Number),
      memoryBytes: expect.any(Number),
    });
    expect(entry!.disks.map((disk) => disk.source)).toEqual([vm.rootPath, vm.dataPath]);
    expect(document.errors).toEqual([]);
  });

  it('filters by state, and prints a table for people', async () => {
    const running = listDocument.parse(
      JSON.parse((await kvmClone(['-c', config, '-o', 'json', 'list', '--status', 'running'])).stdout),
    );
    expect(running.domains.map((domain) => domain.name)).not.toContain(vm.name);
    const { code, stdout } = await kvmClone(['-c', config, 'list', 'a', '--status', 'stopped']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^HOST +NAME +STATE +UUID +MEMORY +VCPUS +DISKS +NETWORKS$/);
    expect(stdout).toMatch(new RegExp(`^a +${vm.name} +shut off `, 'm'));
  });

  it('prints YAML with -o yaml', async () => {
    const { code, stdout } = await kvmClone(['-c', config, '-o', 'yaml', 'list', 'a']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^---\ntype: list\ndomains:\n/);
  });

  it('fails with 1300 for an unknown host alias', async () => {
    const { code, stdout, stderr } = await kvmClone(['-c', config, '-o', 'json', 'list', 'nosuchhost']);
    expect(code).toBe(1);
    expect(errorDocument.parse(JSON.parse(stdout))).toMatchObject({ code: ErrorCode.INVALID_HOST });
    expect(stderr.trim()).toMatch(/^kvm-clone: error 1300 \(INVALID_HOST\): unknown host alias 'nosuchhost'/);
  });

  it('fails with 1103 for a host whose key is not in known_hosts, still listing the others', async () => {
    const emptyKnownHosts = path.join(dir, 'known_hosts_empty');
    await writeFile(emptyKnownHosts, '');
    const strangerConfig = path.join(dir, 'stranger.yaml');
    const b = lab.hostSpec('b');
    await writeFile(
      strangerConfig,
      `hosts:\n  a:\n    address: ${lab.host('a').address}\n    port: ${lab.host('a').port}\n    user: ${lab.host('a').user}\n    identityFile: ${lab.file.identityFile}\n    knownHostsFile: ${lab.file.knownHostsFile}\n    libvirtUri: ${lab.host('a').libvirtUri}\n  stranger:\n    address: ${b.address}\n    port: ${b.port}\n    user: ${b.user}\n    identityFile: ${lab.file.identityFile}\n    knownHostsFile: ${emptyKnownHosts}\n`,
      { mode: 0o600 },
    );
    const { code, stdout, stderr } = await kvmClone(['-c', strangerConfig, '-o', 'json', 'list']);
    expect(code).toBe(1);
    const document = listDocument.parse(JSON.parse(stdout));
    expect(document.errors).toEqual([
      expect.objectContaining({ host: 'stranger', code: ErrorCode.HOST_KEY_ERROR, codeName: 'HOST_KEY_ERROR' }),
    ]);
    expect(document.domains.some((domain) => domain.name === vm.name)).toBe(true);
    expect(stderr).toMatch(/^kvm-clone: error 1103 \(HOST_KEY_ERROR\): host stranger: host key of .* is not in /m);
  });
});
