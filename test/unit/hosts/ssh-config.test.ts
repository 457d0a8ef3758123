import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHostReference, type HostReference } from '../../../src/domain/schemas/host';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { hostKeyPolicyOf, loadSshConfig, parseProxyJump, resolveSshHost } from '../../../src/hosts/ssh-config';
import { workerSshEnvironment, type SshConfigEnvironment } from '../../../src/hosts/ssh-config-files';

let home: string;
let sshDir: string;
let configFile: string;

beforeEach(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'kvm-clone-ssh-config-test-'));
  sshDir = path.join(home, '.ssh');
  mkdirSync(sshDir, { mode: 0o700 });
  configFile = path.join(sshDir, 'config');
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

function write(file: string, text: string, mode = 0o600): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
  return file;
}

/** A key file the worker can read; the resolver only checks that it can be read. */
function key(name: string): string {
  return write(path.join(sshDir, name), 'a key\n');
}

function environment(env: Record<string, string> = {}): SshConfigEnvironment {
  return workerSshEnvironment({ home, env, configFiles: [{ file: configFile, includeDir: sshDir }] });
}

function reference(text: string): HostReference {
  const parsed = parseHostReference(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

function resolve(text: string, env: Record<string, string> = {}) {
  return resolveSshHost(reference(text), environment(env));
}

function failure(run: () => unknown): KvmCloneError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KvmCloneError);
    return error as KvmCloneError;
  }
  throw new Error('expected a KvmCloneError');
}

describe('resolveSshHost', () => {
  it('takes HostName, User, Port, the first readable IdentityFile, UserKnownHostsFile and StrictHostKeyChecking', () => {
    const identity = key('id_kvm');
    write(
      configFile,
      [
        'Host kvm1',
        '  HostName 10.0.0.11',
        '  User admin',
        '  Port 2222',
        '  IdentityFile ~/.ssh/missing_key',
        '  IdentityFile ~/.ssh/id_kvm',
        '  UserKnownHostsFile ~/.ssh/known_hosts_kvm ~/.ssh/known_hosts_other',
        '  StrictHostKeyChecking accept-new',
      ].join('\n'),
    );
    expect(resolve('kvm1')).toMatchObject({
      address: '10.0.0.11',
      user: 'admin',
      port: 2222,
      identityFile: identity,
      knownHostsFile: path.join(sshDir, 'known_hosts_kvm'),
      hostKeyPolicy: 'accept-new',
      // A reference names a host, not where it keeps VMs: the host spec's defaults.
      libvirtUri: 'qemu:///system',
      storageDir: '/var/lib/libvirt/images',
    });
  });

  it('lets the user and port of the reference win over the config, as on the ssh command line', () => {
    write(configFile, 'Host kvm1\n  User admin\n  Port 2222\n');
    expect(resolve('root@kvm1:22')).toMatchObject({ address: 'kvm1', user: 'root', port: 22 });
    expect(resolve('ssh://ops@kvm1:2200')).toMatchObject({ user: 'ops', port: 2200 });
  });

  it('matches Host patterns case-insensitively and uses the first value obtained, general settings last', () => {
    write(configFile, 'Host kvm-*\n  User admin\n\nHost *\n  User nobody\n  Port 2022\n');
    expect(resolve('KVM-7')).toMatchObject({ address: 'KVM-7', user: 'admin', port: 2022 });
    expect(resolve('other')).toMatchObject({ user: 'nobody' });
  });

  it("without a config: the name is the address, the local user, port 22, ~/.ssh/known_hosts, strict, OpenSSH's default keys", () => {
    const identity = key('id_ed25519');
    const host = resolve('kvm9.example.com');
    expect(host).toMatchObject({
      address: 'kvm9.example.com',
      user: os.userInfo().username,
      port: 22,
      identityFile: identity,
      knownHostsFile: path.join(sshDir, 'known_hosts'),
      hostKeyPolicy: 'strict',
    });
    expect(host).not.toHaveProperty('jump');
  });

  it('leaves the identity file out when none is readable, so the SSH agent is used', () => {
    write(configFile, 'Host kvm1\n  IdentityFile ~/.ssh/absent\n');
    expect(resolve('kvm1')).not.toHaveProperty('identityFile');
  });

  it('expands %h, %r, %u, %n, %p, %d, %% and ${VAR} in file names, and %h in HostName', () => {
    write(
      configFile,
      [
        'Host kvm1',
        '  HostName %h.lab.example',
        '  User admin',
        '  IdentityFile ${KEYS}/%r@%h',
        '  UserKnownHostsFile %d/.ssh/known_%n_%p_%u_%%',
        '  IdentityAgent ~/agent.sock',
      ].join('\n'),
    );
    const keys = path.join(home, 'keys');
    const identity = write(path.join(keys, 'admin@kvm1.lab.example'), 'a key\n');
    expect(resolve('kvm1', { KEYS: keys })).toMatchObject({
      address: 'kvm1.lab.example',
      identityFile: identity,
      knownHostsFile: path.join(sshDir, `known_kvm1_22_${os.userInfo().username}_%`),
      agent: path.join(home, 'agent.sock'),
    });
  });

  it('takes IdentityAgent SSH_AUTH_SOCK and $VAR from the environment, and ignores none', () => {
    write(
      configFile,
      'Host a\n  IdentityAgent SSH_AUTH_SOCK\nHost b\n  IdentityAgent $AGENT\nHost c\n  IdentityAgent none\n',
    );
    const env = { SSH_AUTH_SOCK: '/run/agent-a', AGENT: '/run/agent-b' };
    expect(resolve('a', env).agent).toBe('/run/agent-a');
    expect(resolve('b', env).agent).toBe('/run/agent-b');
    expect(resolve('c', env)).not.toHaveProperty('agent');
  });

  it('refuses tokens it cannot compute, unset variables, ~user and relative paths with 1001', () => {
    write(
      configFile,
      [
        'Host token',
        '  IdentityFile ~/.ssh/%C',
        'Host unset',
        '  IdentityFile ${NOT_SET}/key',
        'Host tilde',
        '  IdentityFile ~root/.ssh/key',
        'Host relative',
        '  IdentityFile keys/id',
        'Host dangling',
        '  UserKnownHostsFile ~/.ssh/known_hosts%',
      ].join('\n'),
    );
    expect(failure(() => resolve('token'))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: 'IdentityFile ~/.ssh/%C: the token %C is not supported here',
    });
    expect(failure(() => resolve('unset')).message).toBe(
      'IdentityFile ${NOT_SET}/key: environment variable NOT_SET is not set',
    );
    expect(failure(() => resolve('tilde')).message).toMatch(/~user is not supported/);
    expect(failure(() => resolve('relative')).message).toMatch(/relative path would depend on the worker's working/);
    expect(failure(() => resolve('dangling')).message).toMatch(/the token % is not supported/);
  });

  it('refuses a HostName, User or Port in the config that is not valid, with 1001', () => {
    write(
      configFile,
      'Host badname\n  HostName bad..name\nHost baduser\n  User -oProxyCommand=x\nHost badport\n  Port 70000\n',
    );
    expect(failure(() => resolve('badname'))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: "ssh_config for 'badname': HostName bad..name is not a valid host name or IP address",
    });
    expect(failure(() => resolve('baduser')).message).toBe(
      "ssh_config for 'baduser': User -oProxyCommand=x is not valid",
    );
    expect(failure(() => resolve('badport')).message).toBe("ssh_config for 'badport': Port 70000 is not a valid port");
  });

  it('refuses a name that needs ssh_config to become an address when it has none', () => {
    expect(failure(() => resolve('kvm_1'))).toMatchObject({ code: ErrorCode.CONFIGURATION_ERROR });
    write(configFile, 'Host kvm_1\n  HostName 10.0.0.1\n');
    expect(resolve('kvm_1').address).toBe('10.0.0.1');
  });

  it('attack: refuses UserKnownHostsFile /dev/null and none, which would turn any policy into "accept any key" or "refuse all"', () => {
    write(
      configFile,
      'Host devnull\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\nHost none\n  UserKnownHostsFile none\n',
    );
    for (const name of ['devnull', 'none']) {
      const error = failure(() => resolve(name));
      expect(error.code).toBe(ErrorCode.CONFIGURATION_ERROR);
      expect(error.message).toMatch(/keeps no host keys/);
    }
  });

  it('refuses ProxyCommand, which would run a local command, and points to ProxyJump', () => {
    write(configFile, 'Host kvm1\n  ProxyCommand ssh -W %h:%p bastion\nHost kvm2\n  ProxyCommand none\n');
    expect(failure(() => resolve('kvm1'))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: expect.stringContaining('ProxyCommand is not supported'),
    });
    expect(resolve('kvm2').address).toBe('kvm2');
  });

  it('attack: never runs a Match exec command, and skips its section', () => {
    const marker = path.join(home, 'exec-ran');
    write(configFile, `Match exec "touch ${marker}"\n  User fromexec\nHost *\n  User plain\n`);
    expect(resolve('kvm1').user).toBe('plain');
    expect(existsSync(marker)).toBe(false);
  });

  it('honours Match host and Match user criteria', () => {
    write(configFile, 'Match host kvm* user admin\n  Port 2200\nHost *\n  Port 22\n');
    expect(resolve('admin@kvm1').port).toBe(2200);
    expect(resolve('root@kvm1').port).toBe(22);
  });
});

describe('ProxyJump', () => {
  it('resolves the jump host with the same config and puts it in the spec as `jump`', () => {
    const bastionKey = key('id_bastion');
    write(
      configFile,
      [
        'Host kvm1',
        '  HostName 10.1.0.11',
        '  ProxyJump bastion',
        'Host bastion',
        '  HostName bastion.example.com',
        '  User jump',
        '  Port 2022',
        '  IdentityFile ~/.ssh/id_bastion',
        '  StrictHostKeyChecking yes',
      ].join('\n'),
    );
    expect(resolve('root@kvm1')).toMatchObject({
      address: '10.1.0.11',
      user: 'root',
      jump: {
        address: 'bastion.example.com',
        user: 'jump',
        port: 2022,
        identityFile: bastionKey,
        hostKeyPolicy: 'strict',
        knownHostsFile: path.join(sshDir, 'known_hosts'),
      },
    });
  });

  it('chains hops: the first is reached first and follows its own ProxyJump; later ones go through the hop before', () => {
    write(
      configFile,
      [
        'Host kvm1',
        '  ProxyJump ops@hop1:2201,ssh://hop2:2202',
        'Host hop1',
        '  ProxyJump outer',
        'Host hop2',
        // Overridden: hop2 is reached through hop1, as `ssh -J hop1,hop2` does.
        '  ProxyJump ignored',
        '  User admin',
      ].join('\n'),
    );
    const host = resolve('kvm1');
    expect(host.jump).toMatchObject({ address: 'hop2', port: 2202, user: 'admin' });
    expect(host.jump?.jump).toMatchObject({ address: 'hop1', port: 2201, user: 'ops' });
    expect(host.jump?.jump?.jump).toMatchObject({ address: 'outer', port: 22 });
    expect(host.jump?.jump?.jump?.jump).toBeUndefined();
  });

  it('takes ProxyJump none as no jump host, e.g. to exempt the bastion from Host *', () => {
    write(configFile, 'Host bastion\n  ProxyJump none\nHost *\n  ProxyJump bastion\n');
    expect(resolve('kvm1').jump).toMatchObject({ address: 'bastion' });
    expect(resolve('bastion')).not.toHaveProperty('jump');
  });

  it('refuses a loop (Host * leading through itself) with 1001', () => {
    write(configFile, 'Host *\n  ProxyJump bastion\n');
    expect(failure(() => resolve('kvm1'))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: expect.stringContaining('most likely a loop'),
    });
  });

  it('refuses a hop that is not [user@]host[:port]', () => {
    write(configFile, 'Host kvm1\n  ProxyJump bastion:port\n');
    expect(failure(() => resolve('kvm1')).message).toBe(
      "ssh_config for 'kvm1': ProxyJump bastion:port: 'port' is not a valid port",
    );
    expect(() => parseProxyJump('-oProxyCommand=x', 'kvm1')).toThrow(/not a valid host name/);
  });
});

describe('hostKeyPolicyOf', () => {
  it('maps yes and ask to strict, accept-new to accept-new, and no (never "accept anything") to accept-new', () => {
    expect(hostKeyPolicyOf(undefined, 'h')).toBe('strict');
    expect(hostKeyPolicyOf('yes', 'h')).toBe('strict');
    expect(hostKeyPolicyOf('Ask', 'h')).toBe('strict');
    expect(hostKeyPolicyOf('accept-new', 'h')).toBe('accept-new');
    expect(hostKeyPolicyOf('no', 'h')).toBe('accept-new');
    expect(hostKeyPolicyOf('off', 'h')).toBe('accept-new');
  });

  it('refuses a value OpenSSH does not know, with 1001', () => {
    expect(failure(() => hostKeyPolicyOf('maybe', 'h'))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: "ssh_config for 'h': StrictHostKeyChecking maybe is not a value OpenSSH knows",
    });
  });
});

describe('Include', () => {
  it('reads included files in place, relative to ~/.ssh, with wildcards in sorted order', () => {
    write(path.join(sshDir, 'config.d', '20-kvm'), 'Host kvm1\n  User second\n');
    write(path.join(sshDir, 'config.d', '10-kvm'), 'Host kvm1\n  User first\n  Port 2201\n');
    write(path.join(sshDir, 'config.d', '.hidden'), 'Host kvm1\n  User hidden\n');
    write(configFile, 'Include config.d/*\nHost *\n  Port 22\n');
    expect(resolve('kvm1')).toMatchObject({ user: 'first', port: 2201 });
  });

  it('gives an include inside a Host block its lines before the first Host, and matches its sections on their own', () => {
    write(path.join(sshDir, 'inner'), 'User fromblock\nHost other\n  Port 2999\n');
    write(configFile, 'Host kvm1\n  Include ~/.ssh/inner\n  Port 2200\n');
    expect(resolve('kvm1')).toMatchObject({ user: 'fromblock', port: 2200 });
    expect(resolve('other')).toMatchObject({ port: 2999 });
    expect(resolve('other').user).not.toBe('fromblock');
  });

  it('ignores an Include that names no file, and refuses wildcards in directories and endless nesting', () => {
    write(configFile, 'Include absent/*\nInclude ~/.ssh/also-absent\nHost kvm1\n  User admin\n');
    expect(resolve('kvm1').user).toBe('admin');

    write(configFile, 'Include */config\n');
    expect(failure(() => resolve('kvm1'))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: expect.stringContaining('wildcards are supported in the file name only'),
    });

    write(configFile, 'Include config\n');
    expect(failure(() => resolve('kvm1')).message).toMatch(/Include nested more than 16 deep/);
  });
});

describe('the worker ssh_config files', () => {
  it('attack: refuses a config file that others can write (they would choose where the worker connects)', () => {
    write(configFile, 'Host kvm1\n  HostName 10.0.0.1\n', 0o666);
    expect(failure(() => resolve('kvm1'))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: expect.stringMatching(/bad owner or permissions .*mode 666/),
    });
  });

  it('reports a config file it cannot read, and a config.d it cannot list', () => {
    mkdirSync(configFile);
    expect(failure(() => resolve('kvm1')).message).toMatch(/config: cannot be read: EISDIR/);
    rmSync(configFile, { recursive: true });
    write(path.join(sshDir, 'notadir'), '');
    write(configFile, 'Include notadir/*\n');
    expect(failure(() => resolve('kvm1')).message).toMatch(/notadir: cannot be listed: ENOTDIR/);
  });

  it('reads every file in order: the first value obtained wins, as with ~/.ssh/config before /etc/ssh/ssh_config', () => {
    const system = write(path.join(home, 'etc', 'ssh_config'), 'Host *\n  User system\n  Port 2022\n');
    write(configFile, 'Host kvm1\n  User mine\n');
    const env = workerSshEnvironment({
      home,
      env: {},
      configFiles: [
        { file: configFile, includeDir: sshDir },
        { file: system, includeDir: path.dirname(system) },
      ],
    });
    expect(resolveSshHost(reference('kvm1'), env)).toMatchObject({ user: 'mine', port: 2022 });
    expect(loadSshConfig(env).length).toBeGreaterThan(1);
  });

  it("defaults to the worker user's ~/.ssh/config and /etc/ssh/ssh_config", () => {
    expect(workerSshEnvironment({ home }).configFiles).toEqual([
      { file: configFile, includeDir: sshDir },
      { file: '/etc/ssh/ssh_config', includeDir: '/etc/ssh' },
    ]);
  });
});
