import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from '../../../src/errors';
import { errorDocument } from '../../helpers/cli-documents';
import { kvmClone } from '../../helpers/cli';

let dir: string;

const configDocument = z.object({
  type: z.literal('config'),
  path: z.string(),
  key: z.string().optional(),
  value: z.unknown(),
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-config-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kvm-clone config (the real CLI binary)', () => {
  it('init writes a commented config with mode 600, and refuses to overwrite it', async () => {
    const file = path.join(dir, 'init', 'config.yaml');
    expect((await kvmClone(['-c', file, 'config', 'init'])).code).toBe(0);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toContain('# KVM hosts by alias');
    const again = await kvmClone(['-c', file, '-o', 'json', 'config', 'init']);
    expect(again.code).toBe(1);
    expect(errorDocument.parse(JSON.parse(again.stdout))).toMatchObject({ code: ErrorCode.CONFIGURATION_ERROR });
  });

  it('set and unset edit one key, keep comments, and show prints the result', async () => {
    const file = path.join(dir, 'edit.yaml');
    await writeFile(file, '# keep me\ntemporal:\n  namespace: default # and me\n', { mode: 0o644 });
    expect((await kvmClone(['-c', file, 'config', 'set', 'hosts.prod-a.address', '10.0.0.11'])).code).toBe(0);
    expect((await kvmClone(['-c', file, 'config', 'set', 'hosts.prod-a.port', '2222'])).code).toBe(0);
    expect((await kvmClone(['-c', file, 'config', 'set', 'defaults.clone.bandwidthLimit', '100M'])).code).toBe(0);
    expect((await kvmClone(['-c', file, 'config', 'set', 'temporal.apiKey', 'secret'])).code).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# keep me');
    expect(text).toContain('namespace: default # and me');
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const shown = configDocument.parse(
      JSON.parse((await kvmClone(['-c', file, '-o', 'json', 'config', 'show'])).stdout),
    );
    expect(shown.value).toMatchObject({
      hosts: { 'prod-a': { address: '10.0.0.11', port: 2222 } },
      temporal: { apiKey: '(set)' },
      defaults: { clone: { bandwidthLimit: 100 * 1024 * 1024 } },
    });
    const port = await kvmClone(['-c', file, 'config', 'show', 'hosts.prod-a.port']);
    expect(port.stdout).toBe('2222\n');
    expect(parse((await kvmClone(['-c', file, 'config', 'show', 'hosts'])).stdout)).toEqual({
      'prod-a': {
        address: '10.0.0.11',
        port: 2222,
        user: 'root',
        hostKeyPolicy: 'strict',
        libvirtUri: 'qemu:///system',
        storageDir: '/var/lib/libvirt/images',
      },
    });

    expect((await kvmClone(['-c', file, 'config', 'unset', 'temporal.apiKey'])).code).toBe(0);
    expect(await readFile(file, 'utf8')).not.toContain('apiKey');
  });

  it('refuses an invalid edit with 1001, naming the key and line, and leaves the file as it was', async () => {
    const file = path.join(dir, 'strict.yaml');
    await writeFile(file, 'hosts:\n  a:\n    address: 10.0.0.1\n', { mode: 0o600 });
    const { code, stdout, stderr } = await kvmClone([
      '-c',
      file,
      '-o',
      'json',
      'config',
      'set',
      'hosts.a.port',
      '99999',
    ]);
    expect(code).toBe(1);
    expect(errorDocument.parse(JSON.parse(stdout))).toMatchObject({ code: ErrorCode.CONFIGURATION_ERROR });
    expect(stderr).toMatch(/error 1001 \(CONFIGURATION_ERROR\): .*strict\.yaml:4: hosts\.a\.port: /);
    expect(await readFile(file, 'utf8')).toBe('hosts:\n  a:\n    address: 10.0.0.1\n');
    const typo = await kvmClone(['-c', file, 'config', 'set', 'temporal.adress', 'x:7233']);
    expect(typo.stderr).toMatch(/strict\.yaml:\d+: temporal\.adress: Unrecognized key/);
  });

  it('reports a malformed config file with its line, from any command', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'hosts:\n  a:\n    address: 127.0.0.2\n    port: 99999\n', { mode: 0o600 });
    for (const args of [['config', 'show'], ['list'], ['status']]) {
      const { code, stderr } = await kvmClone(['-c', file, ...args]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/error 1001 \(CONFIGURATION_ERROR\): .*bad\.yaml:4: hosts\.a\.port: /);
    }
  });
});
