import { ErrorCode, KvmCloneError } from '../errors';
import { sh } from '../domain/shell-quote';
import { Libvirt, type DomainState } from './libvirt';
import { describeHost, type SshSession } from './ssh-session';
import { execVirsh, runVirsh } from './virsh';

/**
 * Pausing, resuming and starting one domain for a migration's cutover, through the host's
 * virsh. Each step first checks that the domain of that name is still the one the
 * migration copied (by UUID), so a domain defined in its place meanwhile is never touched.
 */
export class DomainPower {
  private readonly libvirt: Libvirt;

  constructor(
    private readonly session: SshSession,
    private readonly vmName: string,
    private readonly uuid: string,
  ) {
    this.libvirt = new Libvirt(session);
  }

  /** The domain's state; 1003 when the name is gone or now belongs to another domain. */
  async state(): Promise<DomainState> {
    const uuid = await this.libvirt.domainUuid(this.vmName);
    if (uuid !== this.uuid.toLowerCase()) {
      const now = uuid === undefined ? 'is gone' : `is now another domain (UUID ${uuid})`;
      throw new KvmCloneError(
        ErrorCode.VM_NOT_FOUND_ERROR,
        `'${this.vmName}' on ${describeHost(this.session.host)} ${now}, not the one migrated (UUID ${this.uuid})`,
        { vmName: this.vmName },
      );
    }
    return this.libvirt.requireDomainState(this.vmName);
  }

  /** Whether the host has no domain of this name any more (an earlier attempt undefined it). */
  async isGone(): Promise<boolean> {
    return (await this.libvirt.domainUuid(this.vmName)) === undefined;
  }

  /** Has the guest agent flush and freeze every guest filesystem; false (with why) when it cannot. */
  async freezeFilesystems(): Promise<{ frozen: true } | { frozen: false; reason: string }> {
    const result = await execVirsh(this.session, sh`domfsfreeze --domain ${this.vmName}`);
    if (result.exitCode === 0) return { frozen: true };
    return { frozen: false, reason: result.stderr.trim().replace(/^error:\s*/gm, '') };
  }

  /** Thaws what freezeFilesystems froze; a guest with nothing frozen is left as it is. */
  async thawFilesystems(): Promise<void> {
    await execVirsh(this.session, sh`domfsthaw --domain ${this.vmName}`);
  }

  async suspend(): Promise<void> {
    await runVirsh(this.session, sh`suspend --domain ${this.vmName}`, 'virsh suspend');
  }

  async resume(): Promise<void> {
    await runVirsh(this.session, sh`resume --domain ${this.vmName}`, 'virsh resume');
  }

  async start(): Promise<void> {
    await this.libvirt.start(this.vmName);
  }

  async destroy(): Promise<void> {
    await this.libvirt.destroy(this.vmName);
  }

  /** Undefines the domain but keeps its NVRAM, TPM state and disks: nothing of the VM's data is deleted. */
  async undefineKeepingData(): Promise<void> {
    await this.libvirt.undefineKeepingState(this.vmName);
  }

  /** A kept source must not start again at the host's next boot, beside its migrated copy. */
  async disableAutostart(): Promise<void> {
    await runVirsh(this.session, sh`autostart --disable --domain ${this.vmName}`, 'virsh autostart --disable');
  }
}
