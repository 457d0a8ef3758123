import { ErrorCode } from '../errors';
import { sh } from '../domain/shell-quote';
import type { SshSession } from './ssh-session';

const namespaceUri = 'https://kvm-clone.dev/xmlns/sync/1';

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

  private virsh(args: ReturnType<typeof sh>) {
    return sh`virsh --quiet -c ${this.session.host.libvirtUri} ${args}`;
  }

  async markIncomplete(operationId: string): Promise<void> {
    const element = `<sync state="incomplete" operation="${operationId.replace(/[<>&"]/g, '')}"/>`;
    await this.session.run(this.virsh(sh`metadata --domain ${this.vmName} --uri ${namespaceUri} --key kvmclone --set ${element} --config`), {
      what: 'marking the sync target incomplete',
      failureCode: ErrorCode.LIBVIRT_ERROR,
    });
    await this.session.run(this.virsh(sh`desc --domain ${this.vmName} --config --title ${'kvm-clone: sync incomplete, do not start'}`), {
      what: 'titling the sync target',
      failureCode: ErrorCode.LIBVIRT_ERROR,
    });
  }

  /** The operation whose sync into this domain did not finish, if any. */
  async incompleteOperation(): Promise<string | undefined> {
    const result = await this.session.exec(this.virsh(sh`metadata --domain ${this.vmName} --uri ${namespaceUri} --config`));
    if (result.exitCode !== 0) return undefined;
    const match = /state="incomplete"\s+operation="([^"]*)"/.exec(result.stdout.toString('utf8'));
    return match?.[1];
  }
}
