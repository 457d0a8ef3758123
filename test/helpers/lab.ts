import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { HostSpecInput } from '../../src/domain/schemas/host';

const run = promisify(execFile);
const scripts = path.resolve(__dirname, '../../scripts/lab');

interface LabFile {
  labDir: string;
  identityFile: string;
  knownHostsFile: string;
  hosts: { name: string; address: string; port: number; user: string; libvirtUri: string; storageDir: string; vmDir: string }[];
}

export interface LabVm {
  name: string;
  dir: string;
  rootMarker: string;
  dataMarker: string;
  mac: string;
}

export interface MakeVmOptions {
  dir?: string;
  rootFile?: string;
  dataFile?: string;
  dataSize?: string;
  runScript?: string;
  description?: string;
  fillMib?: number;
}

/** The simulated KVM hosts that scripts/lab/up created, as tests reach them. */
export class Lab {
  readonly file: LabFile;

  constructor(labFile: string) {
    this.file = JSON.parse(readFileSync(labFile, 'utf8')) as LabFile;
  }

  host(name: string): LabFile['hosts'][number] {
    const host = this.file.hosts.find((each) => each.name === name);
    if (!host) throw new Error(`no lab host ${name}`);
    return host;
  }

  /** A full host specification, as a workflow input or a worker's alias table holds it. */
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
      ...overrides,
    };
  }

  aliases(): Record<string, HostSpecInput> {
    return Object.fromEntries(this.file.hosts.map((host) => [host.name, this.hostSpec(host.name)]));
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
    const { stdout } = await run(path.join(scripts, 'make-vm'), args);
    return { name, ...(JSON.parse(stdout.trim().split('\n').pop()!) as Omit<LabVm, 'name'>) };
  }

  /** Runs virsh on a lab host as its user, over SSH, with arguments passed verbatim. */
  async virsh(hostName: string, ...args: string[]): Promise<string> {
    const host = this.host(hostName);
    const quoted = args.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
    const { stdout } = await run('ssh', [
      '-q',
      '-i', this.file.identityFile,
      '-o', 'BatchMode=yes',
      '-o', `UserKnownHostsFile=${this.file.knownHostsFile}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-p', String(host.port),
      `${host.user}@${host.address}`,
      `virsh -q -c ${host.libvirtUri} ${quoted}`,
    ]);
    return stdout;
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

/** A VM name no earlier run has used, so a kept lab never collides. */
export function uniqueVmName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
