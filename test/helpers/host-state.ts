import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { LOCKS_DIRECTORY } from '../../src/domain/destination-lock';
import type { Lab, LabVm } from './lab';

const run = promisify(execFile);

/**
 * What a fault test asserts about the hosts after the fault: the source as it was, nothing
 * of an unfinished operation left on the destination, and no command of ours still running.
 */

/** A source VM as a test compares it before and after: its definition, its state, and its disks' sha256. */
export interface SourceFingerprint {
  xml: string;
  state: string | undefined;
  digests: Record<string, string>;
}

/**
 * The source's fingerprint. The disks are hashed on this machine (the lab's hosts are local
 * users), so the fingerprint does not depend on the code under test. Call it with the VM shut
 * off: a running guest changes its disks itself.
 */
export async function fingerprintSource(lab: Lab, hostName: string, vm: LabVm): Promise<SourceFingerprint> {
  const files = [vm.rootPath, vm.dataPath, vm.basePath, vm.nvramPath].filter((file): file is string => !!file);
  const digests: Record<string, string> = {};
  for (const file of files) digests[file] = (await run('sha256sum', [file])).stdout.split(' ')[0]!;
  return {
    xml: await lab.virsh(hostName, 'dumpxml', '--inactive', '--security-info', '--domain', vm.name),
    state: await lab.domainState(hostName, vm.name),
    digests,
  };
}

/**
 * What an operation writing `newName` on a host left there: the domain, files in its storage
 * and VM dirs whose names start with the name (final copies and `.kvm-clone-*.part` partial
 * ones), and a destination lock of the name. Empty when nothing is left.
 */
export async function leftoversOf(lab: Lab, hostName: string, newName: string): Promise<string[]> {
  const host = lab.host(hostName);
  const found: string[] = [];
  if ((await lab.domainState(hostName, newName)) !== undefined) found.push(`domain ${newName}`);
  for (const dir of [host.storageDir, host.vmDir]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    found.push(...names.filter((name) => name.startsWith(newName)).map((name) => path.join(dir, name)));
  }
  const locks = path.join(lab.writableDirs(hostName)[0]!, LOCKS_DIRECTORY);
  const readable = newName.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  const lockNames = await readdir(locks).catch(() => [] as string[]);
  found.push(...lockNames.filter((name) => name.startsWith(`${readable}-`)).map((name) => path.join(locks, name)));
  return found;
}

/** Processes of a lab host's user that are part of the host, not commands an operation ran there. */
const HOST_PROCESSES = new Set([
  'sshd',
  'sshd-session',
  'libvirtd',
  'virtqemud',
  'virtlogd',
  'virtlockd',
  'qemu-system-x86',
  'swtpm',
  'dbus-daemon',
]);

/**
 * Commands still running as the lab hosts' users that no host service explains: a reader, a
 * writer, a hasher or an ssh of an operation that should have ended. Zombies are left out
 * (the lab's init reaps late), and so are the host's daemons and its VMs' emulators.
 */
export async function strayProcesses(lab: Lab): Promise<string[]> {
  const users = new Set(lab.file.hosts.map((host) => host.user));
  const { stdout } = await run('ps', ['-eo', 'user:32=,stat=,comm=,args=']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([user, stat, comm]) => users.has(user!) && !stat!.startsWith('Z') && !HOST_PROCESSES.has(comm!))
    .map((fields) => `${fields[0]}: ${fields.slice(3).join(' ')}`);
}

/** Polls until no stray process is left, for the few seconds a killed session's commands take to notice; returns what is left. */
export async function settledStrayProcesses(lab: Lab, attempts = 50): Promise<string[]> {
  let stray = await strayProcesses(lab);
  for (let attempt = 1; attempt < attempts && stray.length > 0; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    stray = await strayProcesses(lab);
  }
  return stray;
}
