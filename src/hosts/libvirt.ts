import { ErrorCode, KvmCloneError } from '../errors';
import { parseNodeInfo, parseNodeMemStats, type NodeCapacity } from '../domain/node-capacity';
import { joinShell, sh } from '../domain/shell-quote';
import { describeHost, type ExecResult, type SshSession } from './ssh-session';
import { execVirsh, runVirsh } from './virsh';
import { emulatorSupportFromXml, poolTargetPathFromXml, type EmulatorSupport } from './virsh-xml';

export type { EmulatorSupport } from './virsh-xml';

export interface EmulatorRequirement {
  /** The domain's `<domain type>`: `kvm` or `qemu` (TCG). */
  domainType: string;
  emulator?: string;
  machine?: string;
  arch?: string;
}

/** virsh's own explanation: the last `error:` line is the specific one. */
function virshReason(result: ExecResult): string {
  const lines = result.stderr
    .split('\n')
    .map((line) => line.replace(/^error:\s*/, '').trim())
    .filter((line) => line.length > 0);
  return lines.at(-1) ?? `exit status ${result.exitCode ?? result.signal}`;
}

const poolNotFound = /Storage pool not found|failed to get pool/i;
const poolInactive = /pool '.*' is not active/i;

export type DomainState = 'running' | 'idle' | 'paused' | 'in shutdown' | 'shut off' | 'crashed' | 'pmsuspended';

/**
 * libvirt on a host, driven by `virsh` over the host's SSH session: the worker needs no
 * libvirt of its own, and the host's libvirt sees exactly what an administrator's virsh
 * would. Every domain name is passed through `--domain` so a name starting with '-'
 * stays a name.
 */
export class Libvirt {
  constructor(private readonly session: SshSession) {}

  /** The domain's state, or undefined when the host has no domain of that name. */
  async domainState(name: string): Promise<DomainState | undefined> {
    const result = await execVirsh(this.session, sh`domstate --domain ${name}`);
    if (result.exitCode === 0) return result.stdout.toString('utf8').trim() as DomainState;
    if (/failed to get domain|Domain not found/i.test(result.stderr)) return undefined;
    throw new KvmCloneError(
      ErrorCode.LIBVIRT_ERROR,
      `${describeHost(this.session.host)}: virsh domstate failed: ${result.stderr.trim()}`,
    );
  }

  async requireDomainState(name: string): Promise<DomainState> {
    const state = await this.domainState(name);
    if (state === undefined) {
      throw new KvmCloneError(
        ErrorCode.VM_NOT_FOUND_ERROR,
        `VM '${name}' does not exist on ${describeHost(this.session.host)} (${this.session.host.libvirtUri})`,
        {
          vmName: name,
          host: describeHost(this.session.host),
        },
      );
    }
    return state;
  }

  /**
   * The domain XML; `inactive` gives the persistent definition without runtime aliases.
   * Without `--security-info`, so VNC/SPICE passwords are left out: this XML travels
   * through activity results and workflow history (see `securityInfoXml`).
   */
  dumpXml(name: string, options: { inactive: boolean }): Promise<string> {
    return runVirsh(
      this.session,
      options.inactive ? sh`dumpxml --inactive --domain ${name}` : sh`dumpxml --domain ${name}`,
      'virsh dumpxml',
    );
  }

  /**
   * The persistent definition with its secrets (`--security-info`: graphics passwords).
   * For use on the worker only, e.g. to carry passwords into a define: never return it from
   * an activity, log it, or put it in an error.
   */
  async securityInfoXml(name: string): Promise<string> {
    const result = await execVirsh(this.session, sh`dumpxml --inactive --security-info --domain ${name}`);
    if (result.exitCode !== 0) {
      throw new KvmCloneError(
        ErrorCode.LIBVIRT_ERROR,
        `${describeHost(this.session.host)}: virsh dumpxml --security-info of '${name}' failed: ${virshReason(result)}`,
        { vmName: name },
      );
    }
    return result.stdout.toString('utf8');
  }

  /** Defines a domain from XML sent on stdin, so no file of ours is left on the host. */
  async define(xml: string): Promise<void> {
    await runVirsh(this.session, sh`define --file /dev/stdin`, 'virsh define', { stdin: xml });
  }

  /** Removes a domain's definition, with its NVRAM and checkpoint metadata. */
  async undefine(name: string): Promise<void> {
    const result = await execVirsh(
      this.session,
      sh`undefine --nvram --checkpoints-metadata --snapshots-metadata --domain ${name}`,
    );
    if (result.exitCode !== 0 && !/failed to get domain|Domain not found/i.test(result.stderr)) {
      throw new KvmCloneError(
        ErrorCode.LIBVIRT_ERROR,
        `${describeHost(this.session.host)}: virsh undefine failed: ${result.stderr.trim()}`,
      );
    }
  }

  /**
   * Removes a domain's definition but keeps its NVRAM and TPM state, so that the same XML
   * defined again brings the VM back as it was (a VM set aside while a clone replaces it).
   * A libvirt older than 8.9 has no --keep-tpm; it keeps the TPM state without being asked.
   */
  async undefineKeepingState(name: string): Promise<void> {
    let result = await execVirsh(
      this.session,
      sh`undefine --keep-nvram --keep-tpm --checkpoints-metadata --snapshots-metadata --domain ${name}`,
    );
    if (result.exitCode !== 0 && /--keep-tpm/.test(result.stderr)) {
      result = await execVirsh(
        this.session,
        sh`undefine --keep-nvram --checkpoints-metadata --snapshots-metadata --domain ${name}`,
      );
    }
    if (result.exitCode !== 0 && !/failed to get domain|Domain not found/i.test(result.stderr)) {
      throw new KvmCloneError(
        ErrorCode.LIBVIRT_ERROR,
        `${describeHost(this.session.host)}: virsh undefine failed: ${result.stderr.trim()}`,
      );
    }
  }

  /** The domain's UUID, or undefined when the host has no domain of that name. */
  async domainUuid(name: string): Promise<string | undefined> {
    const result = await execVirsh(this.session, sh`domuuid --domain ${name}`);
    if (result.exitCode === 0) return result.stdout.toString('utf8').trim().toLowerCase();
    if (/failed to get domain|Domain not found/i.test(result.stderr)) return undefined;
    throw new KvmCloneError(
      ErrorCode.LIBVIRT_ERROR,
      `${describeHost(this.session.host)}: virsh domuuid failed: ${result.stderr.trim()}`,
    );
  }

  async start(name: string): Promise<void> {
    await runVirsh(this.session, sh`start --domain ${name}`, 'virsh start');
  }

  /** Stops a domain at once; a domain that is not running is left as it is. */
  async destroy(name: string): Promise<void> {
    const result = await execVirsh(this.session, sh`destroy --domain ${name}`);
    if (result.exitCode !== 0 && !/not running|failed to get domain|Domain not found/i.test(result.stderr)) {
      throw new KvmCloneError(
        ErrorCode.LIBVIRT_ERROR,
        `${describeHost(this.session.host)}: virsh destroy failed: ${result.stderr.trim()}`,
      );
    }
  }

  async listDomainNames(): Promise<string[]> {
    const output = await runVirsh(this.session, sh`list --all --name`, 'virsh list');
    return output.split('\n').filter((line) => line.length > 0);
  }

  private get where(): string {
    return describeHost(this.session.host);
  }

  /** Missing or stopped pools are the caller's configuration, not libvirt failing. */
  private poolError(pool: string, result: ExecResult, what: string): KvmCloneError {
    const reason = virshReason(result);
    const details = { host: this.where, pool };
    if (poolNotFound.test(result.stderr)) {
      return new KvmCloneError(
        ErrorCode.CLONE_ERROR,
        `storage pool '${pool}' does not exist on ${this.where} (${this.session.host.libvirtUri})`,
        details,
        { retryable: false },
      );
    }
    if (poolInactive.test(result.stderr)) {
      return new KvmCloneError(
        ErrorCode.CLONE_ERROR,
        `storage pool '${pool}' on ${this.where} is not active; start it with virsh pool-start`,
        details,
        { retryable: false },
      );
    }
    return new KvmCloneError(ErrorCode.LIBVIRT_ERROR, `${this.where}: ${what} failed: ${reason}`, details);
  }

  /** The file behind a volume of a storage pool. */
  async volumePath(pool: string, volume: string): Promise<string> {
    // --vol, like --domain elsewhere, keeps a name starting with '-' a name.
    const result = await execVirsh(this.session, sh`vol-path --pool ${pool} --vol ${volume}`);
    if (result.exitCode === 0) return result.stdout.toString('utf8').trim();
    if (/Storage volume not found|failed to get vol/i.test(result.stderr) && !poolNotFound.test(result.stderr)) {
      throw new KvmCloneError(
        ErrorCode.CLONE_ERROR,
        `storage volume '${volume}' does not exist in pool '${pool}' on ${this.where} (a file added behind libvirt's back needs virsh pool-refresh)`,
        {
          host: this.where,
          pool,
          volume,
        },
      );
    }
    throw this.poolError(pool, result, 'virsh vol-path');
  }

  /** The directory a storage pool keeps its volumes in. */
  async poolTargetPath(pool: string): Promise<string> {
    const result = await execVirsh(this.session, sh`pool-dumpxml --pool ${pool}`);
    if (result.exitCode !== 0) throw this.poolError(pool, result, 'virsh pool-dumpxml');
    const path = poolTargetPathFromXml(result.stdout.toString('utf8'));
    if (path === undefined) {
      throw new KvmCloneError(
        ErrorCode.CLONE_ERROR,
        `storage pool '${pool}' on ${this.where} has no target directory, so its volumes are not files kvm-clone can copy`,
        {
          host: this.where,
          pool,
        },
      );
    }
    return path;
  }

  /** Makes libvirt rescan a pool, so files created over SSH become volumes. */
  async refreshPool(pool: string): Promise<void> {
    const result = await execVirsh(this.session, sh`pool-refresh --pool ${pool}`);
    if (result.exitCode !== 0) throw this.poolError(pool, result, 'virsh pool-refresh');
  }

  /** Whether a virtual network is defined, whether or not it is started. */
  async networkExists(name: string): Promise<boolean> {
    const result = await execVirsh(this.session, sh`net-info --network ${name}`);
    if (result.exitCode === 0) return true;
    if (/Network not found|failed to get network/i.test(result.stderr)) return false;
    throw new KvmCloneError(ErrorCode.LIBVIRT_ERROR, `${this.where}: virsh net-info failed: ${virshReason(result)}`, {
      host: this.where,
      network: name,
    });
  }

  /** Whether the host has a Linux bridge of that name (`<interface type='bridge'>`). */
  async bridgeExists(name: string): Promise<boolean> {
    // Interface names never hold '/' or whitespace; such a name would look outside /sys/class/net.
    if (!/^[^/\s]+$/.test(name) || name === '.' || name === '..') return false;
    const result = await this.session.exec(sh`test -d ${`/sys/class/net/${name}/bridge`}`);
    return result.exitCode === 0;
  }

  /**
   * The host's CPUs and memory as its libvirt sees them (`virsh nodeinfo`, `virsh nodememstats`): for a session
   * libvirt too, since its guests run on the same host. A command that fails or prints something unexpected leaves
   * its fields out rather than failing: the caller decides what an unknown capacity means.
   */
  async nodeCapacity(): Promise<NodeCapacity> {
    const [info, memory] = await Promise.all([
      execVirsh(this.session, sh`nodeinfo`),
      execVirsh(this.session, sh`nodememstats`),
    ]);
    return {
      ...(info.exitCode === 0 ? parseNodeInfo(info.stdout.toString('utf8')) : {}),
      ...(memory.exitCode === 0 ? parseNodeMemStats(memory.stdout.toString('utf8')) : {}),
    };
  }

  /**
   * Checks that this host can run a domain with the given emulator, machine type and
   * architecture, and returns libvirt's canonical names for them. Success of
   * `virsh domcapabilities` is the test: it fails for an emulator binary the host lacks,
   * a machine the emulator does not know, or an accelerator the host cannot provide.
   */
  async checkEmulator(requirement: EmulatorRequirement): Promise<EmulatorSupport> {
    const { domainType, emulator, machine, arch } = requirement;
    const flags = [sh`--virttype ${domainType}`];
    if (emulator !== undefined) flags.push(sh`--emulatorbin ${emulator}`);
    if (machine !== undefined) flags.push(sh`--machine ${machine}`);
    if (arch !== undefined) flags.push(sh`--arch ${arch}`);
    const result = await execVirsh(this.session, sh`domcapabilities ${joinShell(flags, ' ')}`);
    if (result.exitCode === 0) return emulatorSupportFromXml(result.stdout.toString('utf8'));
    const wanted = [`domain type '${domainType}'`];
    if (emulator !== undefined) wanted.push(`emulator '${emulator}'`);
    if (machine !== undefined) wanted.push(`machine '${machine}'`);
    if (arch !== undefined) wanted.push(`arch '${arch}'`);
    throw new KvmCloneError(
      ErrorCode.LIBVIRT_ERROR,
      `${this.where} cannot run a VM with ${wanted.join(', ')}: ${virshReason(result)}`,
      { host: this.where, ...requirement },
      { retryable: false },
    );
  }
}
