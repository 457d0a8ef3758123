import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostRegistry } from '../../../src/activities/host-registry';
import { workerPolicySchema, type WorkerPolicyInput } from '../../../src/domain/schemas/worker-policy';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { workerSshEnvironment } from '../../../src/hosts/ssh-config-files';

let home: string;
let configFile: string;

beforeEach(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'kvm-clone-host-references-test-'));
  mkdirSync(path.join(home, '.ssh'));
  configFile = path.join(home, '.ssh', 'config');
  writeFileSync(
    configFile,
    [
      'Host kvm1',
      '  HostName 10.0.0.11',
      '  User admin',
      '  ProxyJump bastion',
      '  StrictHostKeyChecking no',
      'Host a',
      '  HostName 10.9.9.9',
    ].join('\n'),
    { mode: 0o600 },
  );
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const aliases = {
  a: { address: '10.0.0.1', direct: { b: { address: '10.1.0.2' } } },
  b: { address: '10.0.0.2' },
};

function registry(policy: WorkerPolicyInput = {}): HostRegistry {
  return new HostRegistry(aliases, workerPolicySchema.parse(policy), () =>
    workerSshEnvironment({ home, env: {}, configFiles: [{ file: configFile, includeDir: path.dirname(configFile) }] }),
  );
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

describe('HostRegistry with host references', () => {
  it('attack: refuses every reference with 1300 naming policy.hostReferences when it is off (the default)', () => {
    expect(workerPolicySchema.parse({}).hostReferences).toBeUndefined();
    for (const ref of ['kvm1', 'root@kvm1', 'root@10.6.6.6:22', 'ssh://root@10.6.6.6']) {
      const error = failure(() => registry().resolve(ref));
      expect(error.code).toBe(ErrorCode.INVALID_HOST);
      expect(error.message).toContain(`unknown host alias '${ref}' (configured: a, b)`);
      expect(error.message).toContain('policy.hostReferences is off');
    }
    expect(failure(() => registry({ hostReferences: false }).resolve('kvm1')).code).toBe(ErrorCode.INVALID_HOST);
  });

  it("resolves a reference with the worker's ssh_config when the policy allows it", () => {
    expect(registry({ hostReferences: true }).resolve('kvm1')).toMatchObject({
      address: '10.0.0.11',
      user: 'admin',
      port: 22,
      hostKeyPolicy: 'accept-new',
      knownHostsFile: path.join(home, '.ssh', 'known_hosts'),
      jump: { address: 'bastion', hostKeyPolicy: 'strict' },
    });
    expect(registry({ hostReferences: true }).resolve('ssh://root@kvm1:2222')).toMatchObject({
      address: '10.0.0.11',
      user: 'root',
      port: 2222,
    });
  });

  it('lets a config alias win over ssh_config for the same name', () => {
    expect(registry({ hostReferences: true }).resolve('a')).toMatchObject({ address: '10.0.0.1' });
  });

  it('refuses a string that is neither an alias nor a reference with 1300', () => {
    const error = failure(() => registry({ hostReferences: true }).resolve('root@kvm1:99999'));
    expect(error.code).toBe(ErrorCode.INVALID_HOST);
    expect(error.message).toBe(
      "host 'root@kvm1:99999' is neither a configured alias nor a [user@]host[:port] or ssh://[user@]host[:port] reference: '99999' is not a valid port",
    );
  });

  it("passes the worker's ssh_config errors on (1001)", () => {
    writeFileSync(configFile, 'Host kvm1\n  ProxyCommand nc %h %p\n');
    expect(failure(() => registry({ hostReferences: true }).resolve('kvm1')).code).toBe(ErrorCode.CONFIGURATION_ERROR);
  });

  it('attack: gives no direct route to a reference, whatever the input asks (1001, before any connection)', () => {
    const references = registry({ hostReferences: true });
    for (const [source, destination] of [
      ['a', 'kvm1'],
      ['kvm1', 'b'],
      ['root@10.0.0.1', 'b'],
    ] as const) {
      const error = failure(() => references.directRoute(source, destination));
      expect(error.code).toBe(ErrorCode.CONFIGURATION_ERROR);
      expect(error.message).toContain('needs both hosts as aliases');
    }
    expect(references.directRoute('a', 'b')).toEqual({ address: '10.1.0.2' });
  });

  it('keeps refusing inline host objects under hostReferences: the references name hosts, they never carry keys', () => {
    const error = failure(() =>
      registry({ hostReferences: true }).resolve({
        address: '10.6.6.6',
        port: 22,
        user: 'root',
        identityFile: '/root/.ssh/id_ed25519',
        hostKeyPolicy: 'accept-new',
        libvirtUri: 'qemu:///system',
        storageDir: '/var/lib/libvirt/images',
      }),
    );
    expect(error.code).toBe(ErrorCode.INVALID_HOST);
    expect(error.message).toContain('policy.inlineHosts is off');
  });
});
