import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import type { HostAliasInput } from '../../../src/activities/host-registry';
import type { CloneResult } from '../../../src/domain/clone-result';
import { ErrorCode } from '../../../src/errors';
import { guestWriterScript, lastWriterRecord, waitForWriter, writeStopFlag } from '../../helpers/guest-writer';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { sha256OfFile } from '../../helpers/local-files';
import { useTestEnvironment } from '../../helpers/temporal';

/**
 * The lab's system host `sys` (scripts/lab/up-system): a root-owned libvirtd serving
 * qemu:///system with disks under /var/lib/libvirt/images, which qemu (as libvirt-qemu)
 * owns while a VM runs (dynamic_ownership). Reached as root, and through sudo users with
 * `become: sudo`: kvmlab-admin has the rule, kvmlab-limited and kvmlab-passwd do not.
 */
const lab = new Lab(inject('labFile'));
const run = promisify(execFile);

/** `sys` as a sudo user, with direct routes from and to the session hosts as that user. */
function sudoAlias(kind: 'admin' | 'limited' | 'passwd'): HostAliasInput {
  return { ...lab.sudoSpec(kind), direct: { a: lab.directRoute('sys', 'a'), b: lab.directRoute('sys', 'b') } };
}

const aliases = lab.aliases();
for (const name of ['a', 'b']) {
  aliases[name] = {
    ...aliases[name]!,
    direct: { ...aliases[name]!.direct, 'sys-admin': lab.directRoute(name, 'sys', { user: 'kvmlab-admin' }) },
  };
}
const testEnvironment = useTestEnvironment({
  ...aliases,
  'sys-admin': sudoAlias('admin'),
  'sys-limited': sudoAlias('limited'),
  'sys-passwd': sudoAlias('passwd'),
});

/** Every copied file is the source's bit for bit, as the workflow's digests and the lab's own sha256 say. */
async function expectIdenticalCopies(result: CloneResult): Promise<void> {
  expect(result.files.length).toBeGreaterThanOrEqual(2);
  for (const file of result.files) {
    expect(file.digest?.destination).toBe(file.digest?.source);
    expect(await sha256OfFile(file.destinationPath)).toBe(await sha256OfFile(file.sourcePath));
  }
}

/** Boots a clone and checks that it reads the source's markers from its copied disks. */
async function expectBoots(host: string, name: string, vm: LabVm): Promise<void> {
  // A clone's console log is named after the clone and the source's log file.
  const consoleLog = parseDomainXml(await lab.virsh(host, 'dumpxml', '--inactive', '--domain', name)).logFiles[0]!;
  const guest = await lab.bootAndReadConsole(host, name, consoleLog);
  expect(guest).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);
  expect(guest).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
}

async function uidOf(user: string): Promise<number> {
  return Number((await run('id', ['-u', user])).stdout.trim());
}

describe('the system host (qemu:///system, root, /var/lib/libvirt/images)', () => {
  it('clones a shut-off VM from the system host to a session host; the copy is identical and boots', async () => {
    const name = uniqueVmName('sysout');
    const vm = await lab.makeVm('sys', name);
    expect(vm.dir.startsWith('/var/lib/libvirt/images/')).toBe(true);

    const result = await testEnvironment().client.clone({ source: 'sys', destination: 'a', vmName: name });

    expect(result).toMatchObject({ success: true, sourceHost: 'sys', destinationHost: 'a' });
    await expectIdenticalCopies(result);
    for (const file of result.files) expect(file.destinationPath.startsWith(lab.host('a').storageDir)).toBe(true);
    await expectBoots('a', `${name}_clone`, vm);
    expect(await lab.domainState('sys', name)).toBe('shut off');
  });

  it('clones a session VM into the system host, where qemu runs it as libvirt-qemu (dynamic_ownership)', async () => {
    const name = uniqueVmName('sysin');
    const vm = await lab.makeVm('a', name);

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'sys', vmName: name });

    expect(result).toMatchObject({ success: true, destinationHost: 'sys' });
    await expectIdenticalCopies(result);
    const copies = result.files.map((file) => file.destinationPath);
    for (const copy of copies) expect(copy.startsWith(lab.host('sys').storageDir)).toBe(true);
    const clone = parseDomainXml(await lab.virsh('sys', 'dumpxml', '--inactive', '--domain', `${name}_clone`));
    expect(clone.disks.map((disk) => disk.sourcePath)).toEqual(copies);

    // While the clone runs, libvirt has handed its disks to the qemu user; it gives them back after.
    const qemuUid = await uidOf('libvirt-qemu');
    await lab.virsh('sys', 'start', '--domain', `${name}_clone`);
    const whileRunning = await Promise.all(copies.map(async (copy) => (await stat(copy)).uid));
    const guest = await consoleUntilDone(`${lab.host('sys').storageDir}/${name}_clone-console.log`);
    expect(guest).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);
    expect(guest).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
    await waitForShutOff('sys', `${name}_clone`);
    expect(whileRunning).toEqual(copies.map(() => qemuUid));
    expect(await Promise.all(copies.map(async (copy) => (await stat(copy)).uid))).toEqual(copies.map(() => 0));
  });

  it('clones a running VM of the system host (its disks owned by libvirt-qemu) live, and merges the source back', async () => {
    const name = uniqueVmName('syslive');
    const vm = await lab.makeVm('sys', name, { runScript: guestWriterScript, dataSize: '256M', fillMib: 32 });
    await lab.virsh('sys', 'start', '--domain', name);
    try {
      await waitForWriter(`${vm.dir}/console.log`);
      expect((await stat(vm.dataPath)).uid).toBe(await uidOf('libvirt-qemu'));

      const result = await testEnvironment().client.clone({ source: 'sys', destination: 'b', vmName: name });

      expect(result).toMatchObject({ success: true, consistency: 'crash-consistent' });
      for (const file of result.files) expect(file.digest?.destination).toBe(file.digest?.source);
      expect(await lab.domainState('sys', name)).toBe('running');
      const live = parseDomainXml(await lab.virsh('sys', 'dumpxml', '--domain', name));
      expect(live.disks.map((disk) => disk.sourcePath)).toEqual([vm.rootPath, vm.dataPath]);
      expect((await readdir(vm.dir)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);

      // Writes made after the snapshot went to the overlay and were merged into the source.
      const copiedData = result.files.find((file) => file.target === 'vdb')!.destinationPath;
      const recordsInCopy = await lastWriterRecord(copiedData);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await lab.virsh('sys', 'destroy', '--domain', name);
      expect(await lastWriterRecord(vm.dataPath)).toBeGreaterThan(recordsInCopy);

      await writeStopFlag(copiedData);
      await expectBoots('b', `${name}_clone`, vm);
    } finally {
      if ((await lab.domainState('sys', name)) === 'running') await lab.virsh('sys', 'destroy', '--domain', name);
    }
  });
});

describe('a sudo user with become: sudo', () => {
  it('clones a session VM to the system host and back through kvmlab-admin, relayed and direct', async () => {
    const name = uniqueVmName('sudo');
    const vm = await lab.makeVm('a', name);

    const inbound = await testEnvironment().client.clone({ source: 'a', destination: 'sys-admin', vmName: name });
    expect(inbound).toMatchObject({ success: true, destinationHost: 'sys-admin' });
    await expectIdenticalCopies(inbound);
    // root wrote them, through sudo: the sudo user could not have.
    for (const file of inbound.files) expect((await stat(file.destinationPath)).uid).toBe(0);

    const direct = await testEnvironment().client.clone({
      source: 'a',
      destination: 'sys-admin',
      vmName: name,
      newName: `${name}_direct`,
      direct: true,
    });
    await expectIdenticalCopies(direct);

    const outbound = await testEnvironment().client.clone({
      source: 'sys-admin',
      destination: 'b',
      vmName: `${name}_clone`,
      direct: true,
    });
    expect(outbound).toMatchObject({ success: true, sourceHost: 'sys-admin' });
    await expectIdenticalCopies(outbound);
    await expectBoots('b', `${name}_clone_clone`, vm);
  });

  it('syncs a VM into the system host through kvmlab-admin; the target matches bit for bit', async () => {
    const name = uniqueVmName('sudosync');
    const vm = await lab.makeVm('a', name, { dataSize: '512M', fillMib: 64 });
    const standby = await testEnvironment().client.clone({
      source: 'a',
      destination: 'sys-admin',
      vmName: name,
      newName: name,
    });
    const copyOf = (target: string) => standby.files.find((file) => file.target === target)!.destinationPath;
    await scribble(vm.dataPath, 16, 64 * 1024);

    const result = await testEnvironment().client.sync({ source: 'a', destination: 'sys-admin', vmName: name });

    expect(result).toMatchObject({ success: true, targetName: name });
    const data = result.files.find((file) => file.target === 'vdb')!;
    expect(data.action).toBe('updated');
    expect(data.bytesTransferred).toBeGreaterThan(0);
    expect(data.bytesTransferred).toBeLessThan(4 * 16 * 64 * 1024);
    expect(await sha256OfFile(copyOf('vdb'))).toBe(await sha256OfFile(vm.dataPath));
    expect(await sha256OfFile(copyOf('vda'))).toBe(await sha256OfFile(vm.rootPath));
  });

  it.each([
    ['limited', 'kvmlab-limited'],
    ['passwd', 'kvmlab-passwd'],
  ])('fails with 1102 naming the command and the rule for %s, as destination and as source', async (kind, user) => {
    const name = uniqueVmName(`sudo${kind}`);
    await lab.makeVm('a', name);
    const refusal = {
      code: ErrorCode.PERMISSION_DENIED,
      message: expect.stringMatching(
        new RegExp(
          `${user}@\\[127\\.0\\.0\\.9\\]:2222: cannot run '.+' as root through sudo \\(sudo: [^)]+\\);.* '${user} ALL=\\(root\\) NOPASSWD: /bin/sh'`,
        ),
      ),
    };
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: `sys-${kind}`, vmName: name }),
    ).rejects.toMatchObject(refusal);
    await expect(
      testEnvironment().client.clone({ source: `sys-${kind}`, destination: 'b', vmName: name }),
    ).rejects.toMatchObject(refusal);
    // Nothing was written on the system host.
    expect((await readdir(lab.host('sys').storageDir)).filter((file) => file.startsWith(name))).toEqual([]);
  });
});

describe('host references to the system host', () => {
  let home: string;
  let savedHome: string | undefined;
  const references = useTestEnvironment(lab.aliases(), { policy: { hostReferences: true } });

  beforeAll(async () => {
    // The worker resolves references with its user's ~/.ssh/config: here one in a home of the test's own.
    home = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-sys-ref-'));
    await mkdir(path.join(home, '.ssh'), { mode: 0o700 });
    const config = [
      'Host 127.0.0.9',
      '  Port 2222',
      `  IdentityFile ${lab.file.identityFile}`,
      `  UserKnownHostsFile ${lab.file.knownHostsFile}`,
      '',
    ].join('\n');
    await writeFile(path.join(home, '.ssh', 'config'), config);
    await chmod(path.join(home, '.ssh', 'config'), 0o600);
    savedHome = process.env.HOME;
    process.env.HOME = home;
  });

  afterAll(async () => {
    if (savedHome === undefined) delete process.env.HOME;
    else process.env.HOME = savedHome;
    await rm(home, { recursive: true, force: true });
  });

  it('clones to and from root@127.0.0.9, a qemu:///system host under /var/lib/libvirt/images by default', async () => {
    const name = uniqueVmName('sysref');
    const vm = await lab.makeVm('a', name);
    const destDir = lab.host('sys').storageDir;

    const inbound = await references().client.clone({
      source: 'a',
      destination: 'root@127.0.0.9',
      vmName: name,
      destDir,
    });
    expect(inbound).toMatchObject({ success: true, destinationHost: 'root@127.0.0.9' });
    await expectIdenticalCopies(inbound);
    expect(await lab.domainState('sys', `${name}_clone`)).toBe('shut off');

    const outbound = await references().client.clone({
      source: 'ssh://root@127.0.0.9',
      destination: 'b',
      vmName: `${name}_clone`,
    });
    await expectIdenticalCopies(outbound);
    await expectBoots('b', `${name}_clone_clone`, vm);
  });
});

/** The console of a guest that was started, once it has printed its markers. */
async function consoleUntilDone(consoleLog: string, timeoutMs = 90_000): Promise<string> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const text = await readFile(consoleLog, 'utf8').catch(() => '');
    if (text.includes('KVMCLONE-GUEST-DONE')) return text;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`no KVMCLONE-GUEST-DONE in ${consoleLog}`);
}

/** Waits until a booted lab guest has powered itself off. */
async function waitForShutOff(host: string, name: string, timeoutMs = 90_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if ((await lab.domainState(host, name)) === 'shut off') return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${name} on ${host} did not power off`);
}

/** Overwrites `count` blocks of `blockSize` bytes spread over the file (past its marker block) with random data. */
async function scribble(file: string, count: number, blockSize: number): Promise<void> {
  const size = (await stat(file)).size;
  const handle = await open(file, 'r+');
  try {
    for (let index = 0; index < count; index++) {
      const offset = blockSize + Math.floor((((size - blockSize) / count) * index) / blockSize) * blockSize;
      await handle.write(randomBytes(blockSize), 0, blockSize, offset);
    }
  } finally {
    await handle.close();
  }
}
