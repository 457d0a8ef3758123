import { ErrorCode, KvmCloneError } from '../errors';
import { parseDomainXml, withGraphicsPasswords } from '../domain/domain-xml';
import { joinShell, sh } from '../domain/shell-quote';
import { Libvirt } from './libvirt';
import { describeHost, type SshSession } from './ssh-session';
import { execVirsh, runVirsh } from './virsh';

/** A disk held still by an external overlay while the guest keeps running on top of it. */
export interface FrozenDisk {
  target: string;
  /** The file the guest ran on before, now read-only for qemu: what the clone copies. */
  basePath: string;
  overlayPath: string;
}

export type SnapshotConsistency = 'quiesced' | 'crash-consistent';

export type MergeOutcome = 'merged-live' | 'merged-offline' | 'nothing-to-merge';

/** How far a merge has got, for the activity's heartbeat. */
export interface MergeProgress {
  target: string;
  /** The block job's progress as virsh reports it; absent for an offline `qemu-img commit`. */
  percent?: number;
}

export interface MergeBackOptions {
  /** Called at every poll of a live block commit, and as each offline commit starts. */
  onProgress?: (progress: MergeProgress) => void;
  /** Stops following a block job (the job itself runs on in libvirt, for a retry to pick up). */
  signal?: AbortSignal;
}

const blockJobPollMs = 500;
/**
 * A job at 100 % may not be ready to pivot yet for a moment; a pivot refused this many
 * polls in a row (a minute) is a real failure.
 */
const pivotAttempts = 120;

/** virsh splits --diskspec at commas; a literal comma is written twice. */
function escapeDiskspec(value: string): string {
  return value.replace(/,/g, ',,');
}

/** The percentage in virsh's `blockjob --info` line, e.g. "Active Block Commit: [ 45.3 %]". */
export function blockJobPercent(text: string): number | undefined {
  const match = /\[\s*(\d+(?:\.\d+)?)\s*%\]/.exec(text);
  return match ? Number.parseFloat(match[1]!) : undefined;
}

/**
 * External disk-only snapshots of a running domain, and merging them back: the way to
 * read a running VM's disks consistently without stopping it. Every step checks the
 * domain's current state first, so a retried activity picks up where a lost one stopped.
 */
export class LiveSnapshot {
  constructor(
    private readonly session: SshSession,
    private readonly vmName: string,
  ) {}

  private where(): string {
    return describeHost(this.session.host);
  }

  /** The domain's state as virsh names it. */
  async state(): Promise<string> {
    return (await runVirsh(this.session, sh`domstate --domain ${this.vmName}`, 'virsh domstate')).trim();
  }

  /** Which file each disk target currently runs on (the live definition when running). */
  async currentSources(): Promise<Map<string, string>> {
    const xml = await runVirsh(this.session, sh`dumpxml --domain ${this.vmName}`, 'virsh dumpxml');
    const sources = new Map<string, string>();
    for (const disk of parseDomainXml(xml).disks) if (disk.sourcePath) sources.set(disk.target, disk.sourcePath);
    return sources;
  }

  /** True when a qemu guest agent answers inside the guest, so filesystems can be frozen. */
  async guestAgentResponds(): Promise<boolean> {
    const result = await execVirsh(
      this.session,
      sh`qemu-agent-command --timeout 5 --domain ${this.vmName} ${'{"execute":"guest-ping"}'}`,
    );
    return result.exitCode === 0;
  }

  /**
   * Puts an overlay on top of every disk in `disks`; other disk targets are left alone.
   * With `quiesce`, the guest agent freezes filesystems for the instant of the snapshot.
   */
  async freeze(disks: FrozenDisk[], otherTargets: string[], quiesce: boolean): Promise<void> {
    const current = await this.currentSources();
    if (disks.every((disk) => current.get(disk.target) === disk.overlayPath)) return;
    // A failed earlier attempt may have left an overlay file that libvirt would refuse to overwrite.
    const stale = disks.filter((disk) => current.get(disk.target) !== disk.overlayPath).map((disk) => disk.overlayPath);
    await this.session.run(sh`rm -f -- ${stale}`, { what: 'removing stale overlays' });
    const specs = [
      ...disks.map(
        (disk) => sh`--diskspec ${`${disk.target},snapshot=external,file=${escapeDiskspec(disk.overlayPath)}`}`,
      ),
      ...otherTargets.map((target) => sh`--diskspec ${`${target},snapshot=no`}`),
    ];
    const name = `kvm-clone-${Date.now()}`;
    await runVirsh(
      this.session,
      sh`snapshot-create-as --domain ${this.vmName} --name ${name} --disk-only --atomic --no-metadata ${quiesce ? sh`--quiesce` : sh``} ${joinShell(specs, ' ')}`,
      'virsh snapshot-create-as',
    );
  }

  /**
   * Folds each overlay back into its base and removes it, leaving the domain on its
   * original files. A running domain is merged live (a block commit, then a pivot); one
   * that stopped meanwhile is merged with `qemu-img commit` and its persistent definition
   * restored from `originalXml`. A big overlay takes as long as it takes: `onProgress`
   * reports at every poll so the activity can heartbeat, and a retry follows a block job a
   * lost attempt started instead of starting another.
   */
  async mergeBack(disks: FrozenDisk[], originalXml: string, options: MergeBackOptions = {}): Promise<MergeOutcome> {
    const state = await this.state();
    const current = await this.currentSources();
    const onOverlay = disks.filter((disk) => current.get(disk.target) === disk.overlayPath);
    let outcome: MergeOutcome = 'nothing-to-merge';
    if (onOverlay.length > 0) {
      if (state === 'running' || state === 'paused') {
        for (const disk of onOverlay) await this.commitLive(disk, options);
        outcome = 'merged-live';
      } else {
        for (const disk of onOverlay) {
          options.onProgress?.({ target: disk.target });
          // Runs as long as the overlay is big; the activity heartbeats meanwhile.
          await this.session.run(sh`qemu-img commit -f qcow2 -- ${disk.overlayPath}`, {
            what: `qemu-img commit ${disk.overlayPath}`,
            failureCode: ErrorCode.LIBVIRT_ERROR,
            timeoutMs: Infinity,
          });
        }
        // originalXml carries no graphics password (it passed through history): keep the domain's own.
        const restored = withGraphicsPasswords(
          originalXml,
          await new Libvirt(this.session).securityInfoXml(this.vmName),
        );
        await runVirsh(this.session, sh`define --file /dev/stdin`, 'virsh define', { stdin: restored });
        outcome = 'merged-offline';
      }
    }
    await this.session.run(sh`rm -f -- ${disks.map((disk) => disk.overlayPath)}`, { what: 'removing overlays' });
    return outcome;
  }

  /**
   * Starts an active block commit without waiting in virsh (`--wait` would hold one SSH
   * call for the whole merge, with nothing to report), then polls the job until it can
   * pivot. A job that a lost attempt started makes the start fail; the polls then follow
   * that job, so a retry resumes the commit in progress rather than starting over.
   */
  private async commitLive(disk: FrozenDisk, options: MergeBackOptions): Promise<void> {
    const start = await execVirsh(this.session, sh`blockcommit --domain ${this.vmName} ${disk.target} --active`);
    let pivotRefusals = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const info = await execVirsh(this.session, sh`blockjob --domain ${this.vmName} ${disk.target} --info`);
      const text = `${info.stdout.toString('utf8')}${info.stderr}`;
      if (/No current block job/i.test(text)) {
        if ((await this.currentSources()).get(disk.target) !== disk.overlayPath) return;
        const reason = start.exitCode !== 0 ? start.stderr.trim() : 'the block job ended without a pivot';
        throw new KvmCloneError(
          ErrorCode.LIBVIRT_ERROR,
          `${this.where()}: merging ${disk.overlayPath} back into ${disk.basePath} failed: ${reason}`,
        );
      }
      const percent = blockJobPercent(text);
      options.onProgress?.({ target: disk.target, ...(percent === undefined ? {} : { percent }) });
      if (percent === 100) {
        const pivot = await execVirsh(this.session, sh`blockjob --domain ${this.vmName} ${disk.target} --pivot`);
        if (pivot.exitCode === 0) return;
        if (++pivotRefusals >= pivotAttempts) {
          throw new KvmCloneError(
            ErrorCode.LIBVIRT_ERROR,
            `${this.where()}: virsh blockjob --pivot of ${disk.target} of '${this.vmName}' failed: ${pivot.stderr.trim()}`,
          );
        }
      }
      await new Promise((resolve) => setTimeout(resolve, blockJobPollMs));
    }
  }
}
