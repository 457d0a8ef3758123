import { ErrorCode, KvmCloneError } from '../errors';
import { parseJobStats, type JobStats } from '../domain/live-migration';
import { sh } from '../domain/shell-quote';
import { describeHost, type SshSession } from './ssh-session';
import { execVirsh, runVirsh } from './virsh';

export interface LiveMigrationRequest {
  /** The domain's definition on the destination: the migratable XML with the destination's paths. */
  xml: string;
  /** Name on the destination. */
  newName: string;
  destinationUri: string;
  migrationUri: string;
  /** libvirt's cap on the migration (memory and disk mirror), in MiB/s. */
  bandwidthMiB?: number;
}

/** Where virsh's job directories go on the source: mktemp names them, in a directory every host has. */
const jobDirPrefix = '/tmp/kvm-clone-migrate.';

/** A directory `start` made (mktemp's name): the only kind a retry may read or remove. */
export function isJobDir(dir: string): boolean {
  return /^\/tmp\/kvm-clone-migrate\.[A-Za-z0-9]{8}$/.test(dir);
}

/**
 * libvirt's own live migration of one domain, driven from the source host's virsh:
 * memory and every writable disk (`--copy-storage-all`, an NBD mirror into images that
 * must already exist on the destination) move while the guest runs, then the guest pauses
 * for the switch-over and resumes on the destination. Peer-to-peer: the source's libvirt
 * itself talks to the destination's. The source stays defined, shut off, for the caller to
 * retire.
 */
export class LiveMigration {
  constructor(
    private readonly session: SshSession,
    private readonly vmName: string,
  ) {}

  /** The running domain's XML as libvirt would send it in a migration. */
  migratableXml(): Promise<string> {
    return runVirsh(this.session, sh`dumpxml --migratable --domain ${this.vmName}`, 'virsh dumpxml --migratable');
  }

  /**
   * Starts the migration in the background on the source host and returns the directory
   * that holds its definition, virsh's output and, once virsh ends, its exit status. virsh
   * runs in a session of its own, detached from this SSH session: a worker that dies does
   * not take libvirt's client with it, and the next attempt reads the outcome from here.
   */
  async start(request: LiveMigrationRequest): Promise<string> {
    const bandwidth = request.bandwidthMiB ? sh` --bandwidth ${request.bandwidthMiB}` : sh``;
    const virsh = sh`virsh --quiet -c ${this.session.host.libvirtUri} migrate --live --p2p --persistent --copy-storage-all --domain ${this.vmName} --desturi ${request.destinationUri} --migrateuri ${request.migrationUri} --dname ${request.newName}${bandwidth}`;
    // $1 is the job directory: the XML serves both the running domain and its persistent definition.
    const job = sh`${virsh} --xml "$1/domain.xml" --persistent-xml "$1/domain.xml" >"$1/output" 2>&1; echo $? >"$1/status.new" && mv "$1/status.new" "$1/status"`;
    const script = sh`umask 077 && dir=$(mktemp -d ${`${jobDirPrefix}XXXXXXXX`}) && cat >"$dir/domain.xml" && setsid -f bash -c ${job.text} _ "$dir" </dev/null >/dev/null 2>&1 && printf '%s' "$dir"`;
    const dir = (
      await this.session.run(sh`bash -c ${script.text}`, { stdin: request.xml, what: 'virsh migrate' })
    ).trim();
    if (!isJobDir(dir))
      throw new KvmCloneError(
        ErrorCode.MIGRATION_ERROR,
        `virsh migrate could not be started on ${describeHost(this.session.host)}`,
        {
          vmName: this.vmName,
        },
      );
    return dir;
  }

  /** virsh's exit status and output once it ended; undefined while it runs, or when the directory is gone. */
  async ended(dir: string): Promise<{ exitCode: number; output: string } | undefined> {
    const result = await this.session.exec(sh`cat -- ${`${dir}/status`} && cat -- ${`${dir}/output`}`, {
      maxStdoutBytes: 64 * 1024,
    });
    if (result.exitCode !== 0) return undefined;
    const [status, ...output] = result.stdout.toString('utf8').split('\n');
    return { exitCode: Number(status), output: output.join('\n') };
  }

  /** Whether the job directory still exists: a retry follows the migration through it. */
  async hasJobDir(dir: string): Promise<boolean> {
    return (await this.session.exec(sh`test -d ${dir}`)).exitCode === 0;
  }

  /** Removes the job directory once its outcome is read. */
  async removeJobDir(dir: string): Promise<void> {
    if (isJobDir(dir)) await this.session.exec(sh`rm -rf -- ${dir}`);
  }

  /** virsh's failure as 1206 with its reason. */
  failure(ended: { exitCode: number; output: string }): KvmCloneError {
    const reason = ended.output.trim().replace(/^error:\s*/gm, '') || `exit status ${ended.exitCode}`;
    return new KvmCloneError(
      ErrorCode.MIGRATION_ERROR,
      `libvirt's live migration of '${this.vmName}' from ${describeHost(this.session.host)} failed: ${reason}`,
      { vmName: this.vmName },
      { retryable: false },
    );
  }

  /** The domain's current job: running, with its counters, while the migration goes on. */
  async job(): Promise<JobStats> {
    const result = await execVirsh(this.session, sh`domjobinfo --rawstats --domain ${this.vmName}`);
    return result.exitCode === 0 ? parseJobStats(result.stdout.toString('utf8')) : { type: 0, stats: {} };
  }

  /** The last completed job, kept for a later look (a retry's); type 0 when libvirt has none. */
  async completedJob(): Promise<JobStats> {
    const result = await execVirsh(
      this.session,
      sh`domjobinfo --completed --keep-completed --rawstats --domain ${this.vmName}`,
    );
    return result.exitCode === 0 ? parseJobStats(result.stdout.toString('utf8')) : { type: 0, stats: {} };
  }

  /** Asks libvirt to abort the running job; libvirt then resumes the guest on the source. */
  async abort(): Promise<void> {
    await execVirsh(this.session, sh`domjobabort --domain ${this.vmName}`);
  }
}
