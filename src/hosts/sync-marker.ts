import { sh } from '../domain/shell-quote';
import type { CheckpointRecord } from '../domain/change-tracking';
import { checkpointRecordXml, parseCheckpointRecord } from '../domain/checkpoint-record';
import type { SshSession } from './ssh-session';
import { execVirsh, runVirsh } from './virsh';

const namespaceUri = 'https://kvm-clone.dev/xmlns/sync/1';
const checkpointNamespaceUri = 'https://kvm-clone.dev/xmlns/checkpoint/1';

/**
 * A note in a destination domain's persistent definition that a sync into it has not
 * finished, with a title that `virsh list --title` shows to anyone about to start it.
 * The completed sync redefines the domain from the source and so clears it.
 */
export class SyncMarker {
  constructor(
    private readonly session: SshSession,
    private readonly vmName: string,
  ) {}

  async markIncomplete(operationId: string): Promise<void> {
    const element = `<sync state="incomplete" operation="${operationId.replace(/[<>&"]/g, '')}"/>`;
    await runVirsh(
      this.session,
      sh`metadata --domain ${this.vmName} --uri ${namespaceUri} --key kvmclone --set ${element} --config`,
      'marking the sync target incomplete',
    );
    await runVirsh(
      this.session,
      sh`desc --domain ${this.vmName} --config --title ${'kvm-clone: sync incomplete, do not start'}`,
      'titling the sync target',
    );
  }

  /** The operation whose sync into this domain did not finish, if any. */
  async incompleteOperation(): Promise<string | undefined> {
    const result = await execVirsh(this.session, sh`metadata --domain ${this.vmName} --uri ${namespaceUri} --config`);
    if (result.exitCode !== 0) return undefined;
    const match = /state="incomplete"\s+operation="([^"]*)"/.exec(result.stdout.toString('utf8'));
    return match?.[1];
  }

  /** Which source checkpoint the target's disks equal, left by the last completed checkpoint sync. */
  async checkpointRecord(): Promise<CheckpointRecord | undefined> {
    const result = await execVirsh(
      this.session,
      sh`metadata --domain ${this.vmName} --uri ${checkpointNamespaceUri} --config`,
    );
    if (result.exitCode !== 0) return undefined;
    return parseCheckpointRecord(result.stdout.toString('utf8'));
  }

  async recordCheckpoint(record: CheckpointRecord): Promise<void> {
    await runVirsh(
      this.session,
      sh`metadata --domain ${this.vmName} --uri ${checkpointNamespaceUri} --key kvmclonecp --set ${checkpointRecordXml(record)} --config`,
      'recording the sync checkpoint on the target',
    );
  }
}
