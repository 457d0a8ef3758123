import { parseDomainXml } from '../domain/domain-xml';
import { sh } from '../domain/shell-quote';
import { ErrorCode, KvmCloneError } from '../errors';
import { REPLACED_STATE_FILE, REPLACED_XML_FILE } from './destination-lock';
import { Libvirt } from './libvirt';
import { describeHost, type SshSession } from './ssh-session';
import { tpmStateDir } from './tpm-state';

/** An old file and the name it has while set aside. */
export interface AsideMove {
  from: string;
  to: string;
}

/** What was saved about a VM set aside: its definition (with secrets, on the host only) and whether it ran. */
interface SavedDomain {
  xml: string;
  wasRunning: boolean;
}

/**
 * A VM that a clone with force replaces, kept restorable until the clone is defined. Its
 * definition (with `--security-info`, so graphics passwords survive) and whether it ran
 * are saved inside the destination lock the operation holds, on the destination host:
 * never in an activity result, so no secret reaches workflow history. Every step can run
 * again after a lost reply.
 */
export class ReplacedDomain {
  private readonly libvirt: Libvirt;

  constructor(
    private readonly session: SshSession,
    private readonly vmName: string,
    private readonly lockPath: string,
  ) {
    this.libvirt = new Libvirt(session);
  }

  private get xmlPath(): string {
    return `${this.lockPath}/${REPLACED_XML_FILE}`;
  }

  private get statePath(): string {
    return `${this.lockPath}/${REPLACED_STATE_FILE}`;
  }

  private get where(): string {
    return describeHost(this.session.host);
  }

  private async saved(): Promise<SavedDomain | undefined> {
    const result = await this.session.exec(
      sh`if [ -e ${this.xmlPath} ]; then cat -- ${this.statePath}; printf '\\n'; cat -- ${this.xmlPath}; else echo none; fi`,
      {
        what: `reading ${this.xmlPath}`,
      },
    );
    if (result.exitCode !== 0)
      throw new KvmCloneError(
        ErrorCode.CLONE_ERROR,
        `${this.where}: reading ${this.xmlPath} failed: ${result.stderr.trim()}`,
        { path: this.xmlPath },
      );
    const text = result.stdout.toString('utf8');
    if (text.trim() === 'none') return undefined;
    const newline = text.indexOf('\n');
    return { wasRunning: text.slice(0, newline).trim() === 'running', xml: text.slice(newline + 1) };
  }

  /**
   * Stops the VM, saves its definition, moves its files at the clone's paths aside and
   * undefines it, keeping NVRAM and TPM state. Returns whether it ran, or undefined when
   * there was no such VM to set aside.
   */
  async setAside(moves: readonly AsideMove[]): Promise<{ wasRunning: boolean } | undefined> {
    let saved = await this.saved();
    if (!saved) {
      const state = await this.libvirt.domainState(this.vmName);
      if (state === undefined) return undefined;
      const xml = await this.libvirt.securityInfoXml(this.vmName);
      const wasRunning = state !== 'shut off';
      // The state first, then the XML by rename: the XML's presence says both are complete.
      await this.session.run(
        sh`umask 077 && printf %s ${wasRunning ? 'running' : 'shut off'} > ${this.statePath} && cat > ${`${this.xmlPath}.new`} && mv -f -- ${`${this.xmlPath}.new`} ${this.xmlPath}`,
        {
          what: `saving the definition of '${this.vmName}'`,
          failureCode: ErrorCode.CLONE_ERROR,
          stdin: xml,
        },
      );
      saved = { xml, wasRunning };
    }
    await this.libvirt.destroy(this.vmName);
    for (const { from, to } of moves) {
      await this.session.run(
        sh`if [ -e ${from} ] && [ ! -e ${to} ]; then mv -n -- ${from} ${to}; fi; [ ! -e ${from} ]`,
        {
          what: `moving ${from} aside to ${to}`,
          failureCode: ErrorCode.CLONE_ERROR,
        },
      );
    }
    await this.libvirt.undefineKeepingState(this.vmName);
    return { wasRunning: saved.wasRunning };
  }

  /**
   * Brings the VM back: its files to their names, its definition, and its run state.
   * Refuses to overwrite a file at an old path or a different domain of the same name;
   * the saved definition stays in the lock for an operator then.
   */
  async restore(moves: readonly AsideMove[]): Promise<void> {
    const saved = await this.saved();
    if (!saved) return;
    for (const { from, to } of moves) {
      await this.session.run(
        sh`if [ -e ${to} ]; then if [ -e ${from} ]; then printf '%s is in the way\\n' ${from} >&2; exit 1; fi; mv -n -- ${to} ${from}; fi`,
        {
          what: `moving ${to} back to ${from}`,
          failureCode: ErrorCode.CLONE_ERROR,
        },
      );
    }
    const savedUuid = parseDomainXml(saved.xml).uuid?.toLowerCase();
    const uuid = await this.libvirt.domainUuid(this.vmName);
    if (uuid === undefined) await this.libvirt.define(saved.xml);
    else if (uuid !== savedUuid) {
      throw new KvmCloneError(
        ErrorCode.VM_EXISTS_ERROR,
        `'${this.vmName}' on ${this.where} is now a different domain (UUID ${uuid}); the replaced VM's definition is kept in ${this.xmlPath}`,
        {
          vmName: this.vmName,
          path: this.xmlPath,
        },
      );
    }
    if (saved.wasRunning && (await this.libvirt.domainState(this.vmName)) !== 'running')
      await this.libvirt.start(this.vmName);
    await this.forget();
  }

  /**
   * The VM is replaced for good: its TPM state goes (libvirt's undefine would have removed it), and so does its saved
   * definition.
   */
  async discard(): Promise<void> {
    const saved = await this.saved();
    if (!saved) return;
    const uuid = parseDomainXml(saved.xml).uuid;
    // The UUID names a directory: only a well-formed one is trusted to.
    if (
      uuid &&
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid) &&
      /<tpm\b/.test(saved.xml)
    ) {
      const dir = await tpmStateDir(this.session, uuid.toLowerCase());
      await this.session.run(sh`rm -rf -- ${dir}`, { what: `removing ${dir}` });
    }
    await this.forget();
  }

  private async forget(): Promise<void> {
    await this.session.run(sh`rm -f -- ${this.xmlPath} ${this.statePath}`, { what: `removing ${this.xmlPath}` });
  }
}
