import { ErrorCode, KvmCloneError } from '../errors';
import { sh, type ShellFragment } from '../domain/shell-quote';
import { describeHost, type SshSession } from './ssh-session';

export type DomainState = 'running' | 'idle' | 'paused' | 'in shutdown' | 'shut off' | 'crashed' | 'pmsuspended';

/**
 * libvirt on a host, driven by `virsh` over the host's SSH session: the worker needs no
 * libvirt of its own, and the host's libvirt sees exactly what an administrator's virsh
 * would. Every domain name is passed through `--domain` so a name starting with '-'
 * stays a name.
 */
export class Libvirt {
  constructor(private readonly session: SshSession) {}

  private virsh(args: ShellFragment): ShellFragment {
    return sh`virsh --quiet -c ${this.session.host.libvirtUri} ${args}`;
  }

  private async runVirsh(args: ShellFragment, what: string, stdin?: string): Promise<string> {
    const options = stdin === undefined ? { failureCode: ErrorCode.LIBVIRT_ERROR, what } : { failureCode: ErrorCode.LIBVIRT_ERROR, what, stdin };
    return this.session.run(this.virsh(args), options);
  }

  /** The domain's state, or undefined when the host has no domain of that name. */
  async domainState(name: string): Promise<DomainState | undefined> {
    const result = await this.session.exec(this.virsh(sh`domstate --domain ${name}`));
    if (result.exitCode === 0) return result.stdout.toString('utf8').trim() as DomainState;
    if (/failed to get domain|Domain not found/i.test(result.stderr)) return undefined;
    throw new KvmCloneError(ErrorCode.LIBVIRT_ERROR, `${describeHost(this.session.host)}: virsh domstate failed: ${result.stderr.trim()}`);
  }

  async requireDomainState(name: string): Promise<DomainState> {
    const state = await this.domainState(name);
    if (state === undefined) {
      throw new KvmCloneError(ErrorCode.VM_NOT_FOUND_ERROR, `VM '${name}' does not exist on ${describeHost(this.session.host)} (${this.session.host.libvirtUri})`, {
        vmName: name,
        host: describeHost(this.session.host),
      });
    }
    return state;
  }

  /** The domain XML; `inactive` gives the persistent definition without runtime aliases. */
  dumpXml(name: string, options: { inactive: boolean }): Promise<string> {
    return this.runVirsh(options.inactive ? sh`dumpxml --inactive --security-info --domain ${name}` : sh`dumpxml --security-info --domain ${name}`, 'virsh dumpxml');
  }

  /** Defines a domain from XML sent on stdin, so no file of ours is left on the host. */
  async define(xml: string): Promise<void> {
    await this.runVirsh(sh`define --file /dev/stdin`, 'virsh define', xml);
  }

  /** Removes a domain's definition, with its NVRAM and checkpoint metadata. */
  async undefine(name: string): Promise<void> {
    const result = await this.session.exec(this.virsh(sh`undefine --nvram --checkpoints-metadata --snapshots-metadata --domain ${name}`));
    if (result.exitCode !== 0 && !/failed to get domain|Domain not found/i.test(result.stderr)) {
      throw new KvmCloneError(ErrorCode.LIBVIRT_ERROR, `${describeHost(this.session.host)}: virsh undefine failed: ${result.stderr.trim()}`);
    }
  }

  async start(name: string): Promise<void> {
    await this.runVirsh(sh`start --domain ${name}`, 'virsh start');
  }

  /** Stops a domain at once; a domain that is not running is left as it is. */
  async destroy(name: string): Promise<void> {
    const result = await this.session.exec(this.virsh(sh`destroy --domain ${name}`));
    if (result.exitCode !== 0 && !/not running|failed to get domain|Domain not found/i.test(result.stderr)) {
      throw new KvmCloneError(ErrorCode.LIBVIRT_ERROR, `${describeHost(this.session.host)}: virsh destroy failed: ${result.stderr.trim()}`);
    }
  }

  async listDomainNames(): Promise<string[]> {
    const output = await this.runVirsh(sh`list --all --name`, 'virsh list');
    return output.split('\n').filter((line) => line.length > 0);
  }
}
