import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { DOMParser } from '@xmldom/xmldom';
import type { DirectRoute } from '../../src/domain/schemas/direct-route';
import type { HostAliasInput } from '../../src/activities/host-registry';
import type { HostSpecInput, JumpHost } from '../../src/domain/schemas/host';
import type { WorkerPolicyInput } from '../../src/domain/schemas/worker-policy';

const run = promisify(execFile);
type JumpHostInput = Omit<JumpHost, 'jump'>;
const scripts = path.resolve(__dirname, '../../scripts/lab');

interface LabHost {
  name: string;
  address: string;
  port: number;
  user: string;
  libvirtUri: string;
  storageDir: string;
  vmDir: string;
  /** The host user's own key and known_hosts, on that host, for direct mode. */
  directIdentityFile: string;
  directKnownHostsFile: string;
}

/** The lab's jump host (scripts/lab/up-jump): an sshd only, no libvirt, that every lab key may log in to. */
export interface LabJumpHost {
  address: string;
  /** Allows TCP forwarding: hosts are reached through it (ProxyJump). */
  port: number;
  user: string;
  /** The same sshd with AllowTcpForwarding no. */
  noForwardingPort: number;
  /** Its sshd's log, at DEBUG1: each forwarded connection's target, and the key of each login. */
  logFile: string;
}

/** The sudo users of the system host (scripts/lab/up-system), by what their sudoers rule allows. */
export type SudoUserKind = 'admin' | 'limited' | 'passwd';

interface LabFile {
  labDir: string;
  identityFile: string;
  knownHostsFile: string;
  /** The key host a accepts only with the hostile forced command (see scripts/lab/up). */
  hostileIdentityFile: string;
  /** `bin/` (the lying wrappers) and `scripts/` (what they run when a test asks) of the hostile host. */
  hostileDir: string;
  /** The session hosts a, b, …: each a user with its own qemu:///session. */
  hosts: LabHost[];
  /**
   * Host `sys` (scripts/lab/up-system): a root-owned qemu:///system reached as root, with
   * disks under /var/lib/libvirt/images. Absent with KVM_CLONE_LAB_SYSTEM_HOST=0.
   */
  systemHost?: LabHost;
  /** The system host's sudo users: `admin` may run /bin/sh as root, `limited` only another command, `passwd` only with a password. */
  sudoUsers?: Record<SudoUserKind, string>;
  /** The jump host (scripts/lab/up-jump). */
  jump: LabJumpHost;
}

export interface LabVm {
  name: string;
  dir: string;
  rootMarker: string;
  dataMarker: string;
  mac: string;
  rootPath: string;
  dataPath: string;
  /** With `backing`: the base image the root overlay refers to by a relative path. */
  basePath?: string;
  /** With `dataVolume`: the pool and volume name of the data disk. */
  dataPool?: string;
  dataVolume?: string;
  nvramPath?: string;
  /** Text at offset 0 of the NVRAM file. */
  nvramMarker?: string;
  cdromPath?: string;
  /** Text at offset 0 of the cdrom media, when make-vm created the media. */
  cdromMarker?: string;
}

export interface MakeVmOptions {
  dir?: string;
  rootFile?: string;
  dataFile?: string;
  dataSize?: string;
  runScript?: string;
  description?: string;
  fillMib?: number;
  mac?: string;
  /** false: create the files only (make-vm --no-define). */
  define?: boolean;
  /** The root disk is a qcow2 overlay on a base image (`baseFile`) in the same dir. */
  backing?: boolean;
  baseFile?: string;
  /** The data disk is a volume of this dir storage pool, created if missing. */
  dataVolume?: string;
  /** A pflash loader (SeaBIOS) and an NVRAM file; the VM still boots. */
  nvram?: boolean;
  /** An `<interface type='network'>` on this libvirt network; such a VM cannot boot in the lab. */
  network?: string;
  /** A read-only raw cdrom with this media, relative to the VM dir; created when missing. */
  cdrom?: string;
  /** A virtio channel for the qemu guest agent (see test/fixtures/guest-agent.sh). */
  guestAgent?: boolean;
  /** An emulated TPM 2.0 (swtpm), whose state appears on the first boot. */
  tpm?: boolean;
  /** The root disk's size (default 32M); past 32M it is free space a test may write. */
  rootSize?: string;
}

/** The simulated KVM hosts that scripts/lab/up created, as tests reach them. */
export class Lab {
  readonly file: LabFile;

  constructor(labFile: string) {
    this.file = JSON.parse(readFileSync(labFile, 'utf8')) as LabFile;
  }

  /** Every lab host: the session hosts, then the system host when the lab has it. */
  allHosts(): LabHost[] {
    return this.file.systemHost ? [...this.file.hosts, this.file.systemHost] : this.file.hosts;
  }

  host(name: string): LabHost {
    const host = this.allHosts().find((each) => each.name === name);
    if (!host) throw new Error(`no lab host ${name}`);
    return host;
  }

  /**
   * The jump host as a host spec's `jump` (the worker reaches it with the lab client key), or as a direct route's
   * `proxyJump` (`jumpReference()`). `forwarding: false` picks the port whose sshd refuses to forward.
   */
  jumpHost(options: { forwarding?: boolean } = {}): JumpHostInput {
    const jump = this.file.jump;
    return {
      address: jump.address,
      port: options.forwarding === false ? jump.noForwardingPort : jump.port,
      user: jump.user,
      identityFile: this.file.identityFile,
      knownHostsFile: this.file.knownHostsFile,
      hostKeyPolicy: 'strict',
    };
  }

  /**
   * A ~/.ssh/config as a user writes it: the jump host as `lab-bastion`, lab host `name` as `alias` behind it
   * (ProxyJump), and the lab's key and known_hosts for every host.
   */
  sshConfigBehindJump(alias: string, name: string): string {
    const jump = this.file.jump;
    const host = this.host(name);
    return [
      'Host lab-bastion',
      `  HostName ${jump.address}`,
      `  Port ${jump.port}`,
      `  User ${jump.user}`,
      `Host ${alias}`,
      `  HostName ${host.address}`,
      `  Port ${host.port}`,
      `  User ${host.user}`,
      '  ProxyJump lab-bastion',
      'Host *',
      `  IdentityFile ${this.file.identityFile}`,
      `  UserKnownHostsFile ${this.file.knownHostsFile}`,
      '',
    ].join('\n');
  }

  /** The jump host as `ssh -J` takes it: `user@address:port`. */
  jumpReference(options: { forwarding?: boolean } = {}): string {
    const jump = this.jumpHost(options);
    return `${jump.user}@${jump.address}:${jump.port}`;
  }

  /** The jump host's sshd log from `offset` (a byte length taken earlier by `jumpLogSize()`). */
  async jumpLogSince(offset: number): Promise<string> {
    return (await readFile(this.file.jump.logFile)).subarray(offset).toString('utf8');
  }

  /** The jump host's sshd log's length now, so a test reads only what its own connections logged. */
  async jumpLogSize(): Promise<number> {
    return (await stat(this.file.jump.logFile)).size;
  }

  /** The system host `sys` as one of its sudo users with `become: sudo` (see scripts/lab/up-system). */
  sudoSpec(kind: SudoUserKind, overrides: Partial<HostSpecInput> = {}): HostSpecInput {
    const user = this.file.sudoUsers?.[kind];
    if (!user) throw new Error('the lab has no system host (scripts/lab/up-system)');
    return this.hostSpec('sys', { user, become: 'sudo', ...overrides });
  }

  /**
   * A full host specification, as a worker's alias table holds it. Clones may write into
   * the dirs of writableDirs(); the home's .ssh and everything else stay off limits.
   */
  hostSpec(name: string, overrides: Partial<HostSpecInput> = {}): HostSpecInput {
    const host = this.host(name);
    return {
      address: host.address,
      port: host.port,
      user: host.user,
      identityFile: this.file.identityFile,
      knownHostsFile: this.file.knownHostsFile,
      libvirtUri: host.libvirtUri,
      storageDir: host.storageDir,
      writableDirs: this.writableDirs(name),
      ...overrides,
    };
  }

  /** Where clones may write on a lab host: its images and vms dirs, the dir of test-made pools, and a scratch dir. */
  writableDirs(name: string): string[] {
    const host = this.host(name);
    return [host.storageDir, host.vmDir, path.join(path.dirname(host.storageDir), 'pools'), this.scratchDir(name)];
  }

  /** A dir on a lab host that clones may write into, for a test's own directories and mounts: `<host home>/scratch`. */
  scratchDir(name: string): string {
    return path.join(path.dirname(this.host(name).storageDir), 'scratch');
  }

  /**
   * The worker policy lab tests run with: the defaults, and the lab's guest dir as host
   * files, since lab VMs boot a kernel and initrd from there (referenced, not copied).
   */
  policy(overrides: Partial<WorkerPolicyInput> = {}): WorkerPolicyInput {
    return { hostFiles: ['/usr/share', path.join(this.file.labDir, 'guest')], ...overrides };
  }

  /**
   * Host a as a hostile source: the same host reached with the hostile key, so its virsh,
   * qemu-img and find run whatever `lie()` installed. Use it as the alias `a-hostile`.
   */
  hostileSpec(overrides: Partial<HostSpecInput> = {}): HostSpecInput {
    return this.hostSpec('a', { identityFile: this.file.hostileIdentityFile, ...overrides });
  }

  /**
   * Makes the hostile host's `tool` (virsh, qemu-img or find) run `script` (bash, with the
   * real tools on PATH and the tool's arguments in "$@") until `truth()` is called.
   */
  async lie(tool: 'virsh' | 'qemu-img' | 'find', script: string): Promise<void> {
    const file = path.join(this.file.hostileDir, 'scripts', tool);
    await writeFile(`${file}.new`, `#!/bin/bash\n${script}\n`, { mode: 0o755 });
    await rename(`${file}.new`, file);
  }

  /** Every hostile tool tells the truth again. */
  async truth(): Promise<void> {
    for (const tool of ['virsh', 'qemu-img', 'find'])
      await rm(path.join(this.file.hostileDir, 'scripts', tool), { force: true });
  }

  /** How lab host `from` reaches lab host `to` over its own SSH, with its user's key. */
  directRoute(from: string, to: string, overrides: Partial<DirectRoute> = {}): DirectRoute {
    const source = this.host(from);
    const destination = this.host(to);
    return {
      address: destination.address,
      port: destination.port,
      user: destination.user,
      identityFile: source.directIdentityFile,
      knownHostsFile: source.directKnownHostsFile,
      hostKeyPolicy: 'strict',
      ...overrides,
    };
  }

  /**
   * The lab's aliases, with the route from `from` to `to` as libvirt's ssh transport (live
   * migration) can take it: without a known_hosts file of its own, since the source user's
   * default one already knows every lab host.
   */
  aliasesForLiveMode(from: string, to: string): Record<string, HostAliasInput> {
    const aliases = this.aliases();
    delete aliases[from]!.direct![to]!.knownHostsFile;
    return aliases;
  }

  /**
   * Every lab host by its name, each with a direct route to every other (used only when an input asks for direct mode).
   */
  aliases(): Record<string, HostAliasInput> {
    const hosts = this.allHosts();
    return Object.fromEntries(
      hosts.map((host) => [
        host.name,
        {
          ...this.hostSpec(host.name),
          direct: Object.fromEntries(
            hosts
              .filter((other) => other.name !== host.name)
              .map((other) => [other.name, this.directRoute(host.name, other.name)]),
          ),
        },
      ]),
    );
  }

  async makeVm(hostName: string, name: string, options: MakeVmOptions = {}): Promise<LabVm> {
    const args = [hostName, name];
    if (options.dir) args.push('--dir', options.dir);
    if (options.rootFile) args.push('--root-file', options.rootFile);
    if (options.dataFile) args.push('--data-file', options.dataFile);
    if (options.dataSize) args.push('--data-size', options.dataSize);
    if (options.runScript) args.push('--run-script', options.runScript);
    if (options.description) args.push('--description', options.description);
    if (options.fillMib) args.push('--fill-mib', String(options.fillMib));
    if (options.mac) args.push('--mac', options.mac);
    if (options.define === false) args.push('--no-define');
    if (options.backing) args.push('--backing');
    if (options.baseFile) args.push('--base-file', options.baseFile);
    if (options.dataVolume) args.push('--data-volume', options.dataVolume);
    if (options.nvram) args.push('--nvram');
    if (options.network) args.push('--network', options.network);
    if (options.cdrom) args.push('--cdrom', options.cdrom);
    if (options.guestAgent) args.push('--guest-agent');
    if (options.tpm) args.push('--tpm');
    if (options.rootSize) args.push('--root-size', options.rootSize);
    const { stdout } = await run(path.join(scripts, 'make-vm'), args);
    return { name, ...(JSON.parse(stdout.trim().split('\n').pop()!) as Omit<LabVm, 'name'>) };
  }

  /**
   * Runs a shell command line as a lab host's user, over SSH as any client would, and
   * returns its stdout. Rejects when the command fails, with its stderr in the message.
   */
  sshAs(hostName: string, command: string, stdin?: string): Promise<string> {
    const host = this.host(hostName);
    const args = [
      '-q',
      '-i',
      this.file.identityFile,
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${this.file.knownHostsFile}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-p',
      String(host.port),
      `${host.user}@${host.address}`,
      command,
    ];
    return new Promise((resolve, reject) => {
      const child = execFile('ssh', args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error)
          reject(
            new Error(`${host.user}@${host.address}: '${command}' failed: ${stderr.trim() || error.message}`, {
              cause: error,
            }),
          );
        else resolve(stdout);
      });
      child.stdin?.end(stdin ?? '');
    });
  }

  /** Runs virsh on a lab host as its user, over SSH, with arguments passed verbatim. */
  async virsh(hostName: string, ...args: string[]): Promise<string> {
    return this.sshAs(hostName, `virsh -q -c ${this.host(hostName).libvirtUri} ${args.map(shellWord).join(' ')}`);
  }

  /** Attaches a raw file as a virtio disk to a VM's persistent definition (as an admin adds a disk to a shut-off VM). */
  async attachRawDisk(hostName: string, vmName: string, file: string, target: string): Promise<void> {
    await this.virsh(
      hostName,
      'attach-disk',
      '--domain',
      vmName,
      file,
      target,
      '--config',
      '--targetbus',
      'virtio',
      '--subdriver',
      'raw',
    );
  }

  /**
   * Defines a libvirt network without starting it: session libvirt accepts the
   * definition, but starting it would need a bridge, which only root can create.
   */
  async defineNetwork(hostName: string, name: string): Promise<void> {
    await this.sshAs(
      hostName,
      `virsh -q -c ${this.host(hostName).libvirtUri} net-define --file /dev/stdin`,
      `<network><name>${xmlEscape(name)}</name></network>\n`,
    );
  }

  async undefineNetwork(hostName: string, name: string): Promise<void> {
    await this.virsh(hostName, 'net-undefine', '--network', name).catch(() => undefined);
  }

  /** Stops and undefines a storage pool and deletes its directory with the volumes in it. */
  async removePool(hostName: string, name: string): Promise<void> {
    const xml = await this.virsh(hostName, 'pool-dumpxml', '--pool', name).catch(() => undefined);
    if (xml === undefined) return;
    const target = new DOMParser()
      .parseFromString(xml, 'text/xml')
      .getElementsByTagName('target')[0]
      ?.getElementsByTagName('path')[0]
      ?.textContent?.trim();
    await this.virsh(hostName, 'pool-destroy', '--pool', name).catch(() => undefined);
    await this.virsh(hostName, 'pool-undefine', '--pool', name).catch(() => undefined);
    if (target) await rm(target, { recursive: true, force: true });
  }

  /** Stops and undefines a VM (with its NVRAM) and deletes its directory and data disk. */
  async removeVm(hostName: string, vm: Pick<LabVm, 'name' | 'dir'> & Partial<LabVm>): Promise<void> {
    await this.virsh(hostName, 'destroy', '--domain', vm.name).catch(() => undefined);
    await this.virsh(hostName, 'undefine', '--nvram', '--domain', vm.name).catch(() => undefined);
    await rm(vm.dir, { recursive: true, force: true });
    if (vm.dataPath) await rm(vm.dataPath, { force: true });
  }

  async domainState(hostName: string, name: string): Promise<string | undefined> {
    try {
      return (await this.virsh(hostName, 'domstate', '--domain', name)).trim();
    } catch {
      return undefined;
    }
  }

  /** Boots a VM and waits for the guest to print its markers and power off. */
  async bootAndReadConsole(hostName: string, name: string, consoleLog: string, timeoutMs = 90_000): Promise<string> {
    await this.virsh(hostName, 'start', '--domain', name);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await readFile(consoleLog, 'utf8').catch(() => '');
      if (text.includes('KVMCLONE-GUEST-DONE')) return text;
      if (Date.now() > deadline) throw new Error(`guest ${name} did not finish booting; console so far:\n${text}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function shellWord(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A VM name no earlier run has used, so a kept lab never collides. */
export function uniqueVmName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
