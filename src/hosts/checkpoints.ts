import { ErrorCode } from '../errors';
import { joinShell, sh } from '../domain/shell-quote';
import { escapeXmlAttribute, escapeXmlText } from '../domain/xml-dom';
import type { Extent } from '../domain/transfer-plan';
import type { SshSession } from './ssh-session';
import { execVirsh, runVirsh } from './virsh';

interface DirtyMapEntry {
  start: number;
  length: number;
  data: boolean;
}

/** qemu's --image-opts splits at commas; a literal comma is written twice. */
function escapeImageOpt(value: string): string {
  return value.replace(/,/g, ',,');
}

/** Longest Unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const maxSocketPath = 107;

/**
 * Where the backup's NBD socket goes: beside the disks, where qemu may create files, unless
 * that path is too long for a Unix socket; then in /tmp.
 */
export function backupSocketPath(workDir: string, tag: string): string {
  const beside = `${workDir}/.kvm-clone-${tag}.sock`;
  return Buffer.byteLength(beside) <= maxSocketPath ? beside : `/tmp/kvm-clone-${tag}.sock`;
}

/**
 * libvirt checkpoints of a running domain: persistent dirty bitmaps in its qcow2 images,
 * named checkpoints over them, and reading which guest blocks a bitmap saw written. The
 * bitmap is read the way incremental backup tools do it: a pull-mode backup exports the
 * disk over NBD on a Unix socket on the host, `qemu-img map` reads the bitmap through the
 * export's metadata context, and the backup job is aborted; no disk data is read.
 */
export class Checkpoints {
  constructor(
    private readonly session: SshSession,
    private readonly vmName: string,
  ) {}

  async names(): Promise<string[]> {
    const output = await runVirsh(
      this.session,
      sh`checkpoint-list --domain ${this.vmName} --name`,
      'virsh checkpoint-list',
    );
    return output
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
  }

  /**
   * Starts a bitmap on each of `bitmapTargets` from now on; a retry finds it made. Once
   * any disk is named, libvirt leaves the unnamed ones out, as raw disks must be.
   */
  async create(name: string, bitmapTargets: readonly string[]): Promise<void> {
    if ((await this.names()).includes(name)) return;
    const diskspecs = joinShell(
      bitmapTargets.map((target) => sh`--diskspec ${`${target},checkpoint=bitmap`}`),
      ' ',
    );
    await runVirsh(
      this.session,
      sh`checkpoint-create-as --domain ${this.vmName} --name ${name} ${diskspecs}`,
      `virsh checkpoint-create-as ${name}`,
    );
  }

  /** Deletes a checkpoint; libvirt folds its bitmap into its parent's, so older checkpoints stay whole. */
  async delete(name: string): Promise<void> {
    if (!(await this.names()).includes(name)) return;
    await runVirsh(
      this.session,
      sh`checkpoint-delete --domain ${this.vmName} --checkpointname ${name}`,
      `virsh checkpoint-delete ${name}`,
    );
  }

  /**
   * The guest ranges of each disk in `targets` written since checkpoint `since` up to
   * now. `allTargets` names every disk of the domain, since the backup must say which to
   * leave out. The export's socket and scratch files live in `workDir` for the moment
   * the job runs.
   */
  async dirtyExtents(
    since: string,
    targets: readonly string[],
    allTargets: readonly string[],
    workDir: string,
    tag: string,
  ): Promise<Map<string, Extent[]>> {
    await this.abortBackup();
    const socket = backupSocketPath(workDir, tag);
    const scratch = (target: string) => `${workDir}/.kvm-clone-${tag}-${target}.scratch`;
    const disks = allTargets.map((target) =>
      targets.includes(target)
        ? `<disk name="${escapeXmlAttribute(target)}" backup="yes" type="file"><scratch file="${escapeXmlAttribute(scratch(target))}"/></disk>`
        : `<disk name="${escapeXmlAttribute(target)}" backup="no"/>`,
    );
    const backupXml = `<domainbackup mode="pull"><incremental>${escapeXmlText(since)}</incremental><server transport="unix" socket="${escapeXmlAttribute(socket)}"/><disks>${disks.join('')}</disks></domainbackup>`;
    await runVirsh(
      this.session,
      sh`backup-begin --domain ${this.vmName} --backupxml /dev/stdin`,
      `virsh backup-begin since checkpoint ${since}`,
      { stdin: backupXml },
    );
    try {
      const dirty = new Map<string, Extent[]>();
      for (const target of targets) {
        const options = `driver=nbd,export=${escapeImageOpt(target)},server.type=unix,server.path=${escapeImageOpt(socket)},x-dirty-bitmap=qemu:dirty-bitmap:backup-${escapeImageOpt(target)}`;
        const output = await this.session.run(sh`qemu-img map --output=json --image-opts ${options}`, {
          what: `reading the dirty bitmap of ${target}`,
          failureCode: ErrorCode.LIBVIRT_ERROR,
        });
        // x-dirty-bitmap reports the bitmap in place of allocation, inverted: dirty blocks read as "data": false.
        dirty.set(
          target,
          (JSON.parse(output) as DirtyMapEntry[])
            .filter((entry) => !entry.data)
            .map((entry) => ({ start: entry.start, length: entry.length })),
        );
      }
      return dirty;
    } finally {
      await this.abortBackup();
      await this.session.exec(sh`rm -f -- ${[socket, ...targets.map(scratch)]}`);
    }
  }

  /** Ends a running backup job, such as one a lost attempt started; libvirt removes its scratch files. */
  private async abortBackup(): Promise<void> {
    const running = await execVirsh(this.session, sh`backup-dumpxml --domain ${this.vmName}`);
    if (running.exitCode !== 0) return;
    await runVirsh(this.session, sh`domjobabort --domain ${this.vmName}`, 'virsh domjobabort');
  }
}
