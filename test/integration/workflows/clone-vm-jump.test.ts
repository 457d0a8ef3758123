/**
 * Clones to a destination the worker reaches only through the lab's jump host
 * (scripts/lab/up-jump), in relay mode (the worker's `jump`) and in direct mode (the route's
 * `proxyJump`, an `ssh -J` on the source host), and with a key that has a passphrase, used
 * through a private ssh-agent. The jump host's sshd log proves what went through it.
 */
import { mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { sha256OfFile } from '../../helpers/local-files';
import {
  agentSocket,
  authorizeOnLabHost,
  makePassphraseKey,
  passphraseKeyFile,
  startAgent,
  type PassphraseKey,
  type PrivateAgent,
} from '../../helpers/ssh-agent';
import { useTestEnvironment } from '../../helpers/temporal';

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
const b = lab.host('b');
const targetOfB = `target ${b.address} port ${b.port}`;

// The worker's config names the key and the agent's socket; both are made before the first test.
const keyDir = mkdtempSync(path.join(tmpdir(), 'kvm-clone-jump-key-'));
let key: PassphraseKey;
let agent: PrivateAgent | undefined;

// Host b under other names: behind the jump host, behind one that refuses to forward, and with the passphrase key.
const testEnvironment = useTestEnvironment({
  ...lab.aliases(),
  a: {
    ...lab.aliases().a!,
    direct: { 'b-jump': lab.directRoute('a', 'b', { proxyJump: lab.jumpReference() }) },
  },
  'b-jump': lab.hostSpec('b', { jump: lab.jumpHost() }),
  'b-closed-jump': lab.hostSpec('b', { jump: lab.jumpHost({ forwarding: false }) }),
  'b-passphrase': lab.hostSpec('b', { identityFile: passphraseKeyFile(keyDir), agent: agentSocket(keyDir) }),
});

let unauthorize: (() => Promise<void>) | undefined;
const vms: LabVm[] = [];
const clones: string[] = [];

beforeAll(async () => {
  key = await makePassphraseKey(keyDir);
  agent = await startAgent(keyDir);
  unauthorize = await authorizeOnLabHost(lab, 'b', key.publicKey);
});

afterAll(async () => {
  for (const name of clones) {
    await lab.virsh('b', 'undefine', '--nvram', '--domain', name).catch(() => undefined);
    for (const file of await filesOnB(name)) await rm(path.join(b.storageDir, file), { force: true });
  }
  for (const vm of vms) await lab.removeVm('a', vm);
  await unauthorize?.();
  await agent?.stop();
  await rm(keyDir, { recursive: true, force: true });
});

/** Files in host b's storage directory that belong to the clone `name`. */
async function filesOnB(name: string): Promise<string[]> {
  return (await readdir(b.storageDir)).filter((file) => file.startsWith(`${name}-`) || file === name);
}

async function sourceVm(prefix: string): Promise<LabVm> {
  const vm = await lab.makeVm('a', uniqueVmName(prefix), { fillMib: 8 });
  vms.push(vm);
  clones.push(`${vm.name}_clone`);
  return vm;
}

/** The SHA256 fingerprint of a public key file, as sshd logs it. */
async function fingerprint(publicKeyFile: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', publicKeyFile]);
  return stdout.split(' ')[1]!;
}

describe('cloneVM through a jump host', () => {
  it('relay: copies a → b where the worker reaches b only through the jump host, which forwarded the connection', async () => {
    const vm = await sourceVm('jumprelay');
    const logFrom = await lab.jumpLogSize();

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b-jump', vmName: vm.name });

    expect(result).toMatchObject({ success: true, transport: 'relay', destinationHost: 'b-jump' });
    for (const file of result.files) {
      expect(file.digest?.destination).toBe(file.digest?.source);
      expect(await sha256OfFile(file.destinationPath)).toBe(await sha256OfFile(file.sourcePath));
    }
    expect(await lab.domainState('b', `${vm.name}_clone`)).toBe('shut off');
    const log = await lab.jumpLogSince(logFrom);
    expect(log).toContain(targetOfB);
    expect(log).toContain(`Accepted publickey for ${lab.file.jump.user}`);
  });

  it("direct: the source host's ssh -J reaches b through the jump host with its own key", async () => {
    const vm = await sourceVm('jumpdirect');
    const logFrom = await lab.jumpLogSize();

    const result = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b-jump',
      vmName: vm.name,
      direct: true,
    });

    expect(result).toMatchObject({ success: true, transport: 'direct' });
    for (const file of result.files) {
      expect(file.digest?.destination).toBe(file.digest?.source);
      expect(await sha256OfFile(file.destinationPath)).toBe(await sha256OfFile(file.sourcePath));
    }
    // Host a's own key (not the worker's) logged in to the jump host, which then forwarded to b.
    const log = await lab.jumpLogSince(logFrom);
    const sourceKey = await fingerprint(`${lab.host('a').directIdentityFile}.pub`);
    expect(log).toContain(`Accepted publickey for ${lab.file.jump.user} from 127.0.0.1`);
    expect(log).toMatch(new RegExp(`Accepted publickey for ${lab.file.jump.user} .* ${escapeRegExp(sourceKey)}`));
    expect(log).toContain(targetOfB);
  });

  it('fails with 1002 naming the jump host when it refuses to forward, and leaves nothing on b', async () => {
    const vm = await sourceVm('jumpclosed');
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'b-closed-jump', vmName: vm.name }),
    ).rejects.toMatchObject({
      code: ErrorCode.CONNECTION_ERROR,
      message: expect.stringContaining(
        `kvmlab-jump@[127.0.0.20]:${lab.file.jump.noForwardingPort} (jump host) cannot reach kvmlab-b@[127.0.0.3]:2222`,
      ),
    });
    expect(await filesOnB(`${vm.name}_clone`)).toEqual([]);
    expect(await lab.domainState('b', `${vm.name}_clone`)).toBeUndefined();
  });
});

describe('cloneVM with a key that has a passphrase', () => {
  it("fails with 1100 while the worker's agent does not hold the key, and leaves nothing on b", async () => {
    const vm = await sourceVm('pass-none');
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'b-passphrase', vmName: vm.name }),
    ).rejects.toMatchObject({
      code: ErrorCode.AUTH_ERROR,
      message: expect.stringContaining(`since key ${key.file} has a passphrase`),
    });
    expect(await filesOnB(`${vm.name}_clone`)).toEqual([]);
  });

  it('copies a → b once ssh-add put the key in the agent', async () => {
    await agent!.add(key);
    const vm = await sourceVm('pass-agent');

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b-passphrase', vmName: vm.name });

    expect(result).toMatchObject({ success: true, destinationHost: 'b-passphrase' });
    for (const file of result.files) expect(file.digest?.destination).toBe(file.digest?.source);
    expect(await lab.domainState('b', `${vm.name}_clone`)).toBe('shut off');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
