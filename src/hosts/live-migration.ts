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

/**
 * libvirt's own live migration of one domain, driven from the source host's virsh:
 * memory and every writable disk (`--copy-storage-all`, an NBD mirror into images that
 * must already exist on the destination) move while the guest runs, then the guest pauses
 * for the switch-over and resumes on the destination. Peer-to-peer: the source's libvirt
 * itself talks to the destination's, so the job does not hang on this SSH session. The
 * source stays defined, shut off, for the caller to retire.
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

  /** Runs the migration to its end; a refusal or failure of libvirt's is 1206 with virsh's reason. */
  async migrate(request: LiveMigrationRequest): Promise<void> {
    // One XML for the running domain and its persistent definition, read from stdin into two descriptors.
    const virsh = sh`virsh --quiet -c ${this.session.host.libvirtUri} migrate --live --p2p --persistent --copy-storage-all --domain ${this.vmName} --desturi ${request.destinationUri} --migrateuri ${request.migrationUri} --dname ${request.newName}${request.bandwidthMiB ? sh` --bandwidth ${request.bandwidthMiB}` : sh``}`;
    const script = sh`xml=$(cat) && ${virsh} --xml <(printf '%s' "$xml") --persistent-xml <(printf '%s' "$xml")`;
    const result = await this.session.exec(sh`bash -c ${script.text}`, {
      stdin: request.xml,
      // The activity's own timeout bounds it: a large guest's disks take hours.
      timeoutMs: Number.POSITIVE_INFINITY,
    });
    if (result.exitCode === 0) return;
    const reason =
      result.stderr.trim().replace(/^error:\s*/gm, '') || `exit status ${result.exitCode ?? result.signal}`;
    throw new KvmCloneError(
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
