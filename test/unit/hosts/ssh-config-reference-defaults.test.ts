/** The CLI's -k and --ssh-port as the defaults a reference is resolved with (ReferenceDefaults). */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostRegistry } from '../../../src/activities/host-registry';
import { parseHostReference, type HostReference } from '../../../src/domain/schemas/host';
import { workerPolicySchema } from '../../../src/domain/schemas/worker-policy';
import { resolveSshHost, type ReferenceDefaults } from '../../../src/hosts/ssh-config';
import { workerSshEnvironment, type SshConfigEnvironment } from '../../../src/hosts/ssh-config-files';

let home: string;
let sshDir: string;
let configFile: string;
let flagKey: string;
let configKey: string;

function write(file: string, text: string): string {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

beforeEach(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'kvm-clone-reference-defaults-test-'));
  sshDir = path.join(home, '.ssh');
  mkdirSync(sshDir, { mode: 0o700 });
  configFile = path.join(sshDir, 'config');
  flagKey = write(path.join(home, 'flag_key'), 'a key\n');
  configKey = write(path.join(sshDir, 'id_config'), 'a key\n');
  write(path.join(sshDir, 'id_ed25519'), 'a default key\n');
  write(
    configFile,
    [
      'Host kvm1',
      '  HostName 10.0.0.11',
      '  Port 2200',
      `  IdentityFile ${configKey}`,
      '  ProxyJump bastion',
      'Host bastion',
      '  HostName 10.0.0.1',
      `  IdentityFile ${configKey}`,
    ].join('\n'),
  );
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

function environment(): SshConfigEnvironment {
  return workerSshEnvironment({ home, env: {}, configFiles: [{ file: configFile, includeDir: sshDir }] });
}

function reference(text: string): HostReference {
  const parsed = parseHostReference(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

function resolve(text: string, defaults?: ReferenceDefaults) {
  return resolveSshHost(reference(text), environment(), defaults);
}

describe('resolveSshHost with the command line defaults', () => {
  it("uses -k's key before ssh_config's IdentityFile and the default keys, as ssh -i does", () => {
    expect(resolve('root@kvm1', { identityFile: flagKey }).identityFile).toBe(flagKey);
    expect(resolve('root@kvm1').identityFile).toBe(configKey);
    expect(resolve('root@10.0.0.12', { identityFile: flagKey }).identityFile).toBe(flagKey);
    expect(resolve('root@10.0.0.12').identityFile).toBe(path.join(sshDir, 'id_ed25519'));
  });

  it('keeps a named key that cannot be read, so the connection fails on it (1101) rather than on another key', () => {
    const missing = path.join(home, 'missing_key');
    expect(resolve('root@10.0.0.12', { identityFile: missing }).identityFile).toBe(missing);
  });

  it("takes --ssh-port only when neither the reference nor ssh_config's Port names one", () => {
    expect(resolve('root@10.0.0.12', { port: 2222 }).port).toBe(2222);
    expect(resolve('root@10.0.0.12').port).toBe(22);
    expect(resolve('root@10.0.0.12:2022', { port: 2222 }).port).toBe(2022);
    expect(resolve('ssh://root@10.0.0.12:2022', { port: 2222 }).port).toBe(2022);
    expect(resolve('root@kvm1', { port: 2222 }).port).toBe(2200);
  });

  it('leaves the jump hosts alone: OpenSSH runs a ProxyJump hop without the -i and -p of the command', () => {
    const host = resolve('root@kvm1', { identityFile: flagKey, port: 2222 });
    expect(host.jump).toMatchObject({ address: '10.0.0.1', port: 22, identityFile: configKey });
  });
});

describe('HostRegistry with the command line defaults', () => {
  const aliases = { a: { address: '10.0.0.1', port: 2201 } };

  function registry(defaults: ReferenceDefaults): HostRegistry {
    return new HostRegistry(aliases, workerPolicySchema.parse({ hostReferences: true }), environment, defaults);
  }

  it('applies them to references only: a config alias keeps what the config says', () => {
    const resolved = registry({ identityFile: flagKey, port: 2222 });
    expect(resolved.resolve('a')).toMatchObject({ address: '10.0.0.1', port: 2201 });
    expect(resolved.resolve('a').identityFile).toBeUndefined();
    expect(resolved.resolve('root@10.0.0.12')).toMatchObject({ port: 2222, identityFile: flagKey });
  });
});
