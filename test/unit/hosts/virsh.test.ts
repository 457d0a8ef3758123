import { describe, expect, it } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { sh, type ShellFragment } from '../../../src/domain/shell-quote';
import { ErrorCode } from '../../../src/errors';
import { Checkpoints } from '../../../src/hosts/checkpoints';
import { writeCloneRecord } from '../../../src/hosts/clone-record';
import { Libvirt } from '../../../src/hosts/libvirt';
import { LiveSnapshot } from '../../../src/hosts/live-snapshot';
import { SshSession, type ExecOptions, type ExecResult } from '../../../src/hosts/ssh-session';
import { SyncMarker } from '../../../src/hosts/sync-marker';
import { execVirsh, runVirsh } from '../../../src/hosts/virsh';

const host = hostSpecSchema.parse({ address: '10.0.0.12', libvirtUri: "qemu+ssh://o'brien@h/system" });

/** An SshSession whose channel is replaced by `respond`: everything above exec (run, its errors) is the real code. */
function scriptedSession(respond: (command: string) => Partial<ExecResult> = () => ({})): {
  session: SshSession;
  calls: { command: string; options: ExecOptions }[];
} {
  const calls: { command: string; options: ExecOptions }[] = [];
  const session = Object.create(SshSession.prototype) as SshSession;
  Object.assign(session, {
    host,
    exec: async (command: ShellFragment, options: ExecOptions = {}): Promise<ExecResult> => {
      calls.push({ command: command.text, options });
      return { stdout: Buffer.from(''), stderr: '', exitCode: 0, ...respond(command.text) };
    },
  });
  return { session, calls };
}

const prefix = `virsh --quiet -c 'qemu+ssh://o'\\''brien@h/system'`;

describe('virsh', () => {
  it('runs virsh against the libvirt URI of the host, every argument quoted', async () => {
    const { session, calls } = scriptedSession();
    await execVirsh(session, sh`domstate --domain ${'web 01; rm -rf /'}`);
    expect(calls[0]!.command).toBe(`${prefix} domstate --domain 'web 01; rm -rf /'`);
  });

  it('execVirsh returns the result of a failed command for the caller to judge', async () => {
    const { session } = scriptedSession(() => ({ exitCode: 1, stderr: 'error: Domain not found' }));
    await expect(execVirsh(session, sh`domuuid --domain web01`)).resolves.toMatchObject({ exitCode: 1 });
  });

  it('runVirsh passes stdin and fails with 1009 (LIBVIRT_ERROR) named by what it was doing', async () => {
    const { session, calls } = scriptedSession(() => ({ exitCode: 1, stderr: 'error: XML error' }));
    const failure = runVirsh(session, sh`define --file /dev/stdin`, 'virsh define', { stdin: '<domain/>' });
    await expect(failure).rejects.toMatchObject({
      code: ErrorCode.LIBVIRT_ERROR,
      message: expect.stringContaining('virsh define failed: error: XML error'),
    });
    expect(calls[0]!.options.stdin).toBe('<domain/>');
  });

  it('is how every libvirt adapter reaches virsh', async () => {
    const { session, calls } = scriptedSession((command) =>
      command.includes('checkpoint-list') ? { stdout: Buffer.from('') } : {},
    );
    await new Libvirt(session).start('web01');
    await new LiveSnapshot(session, 'web01').guestAgentResponds();
    await new Checkpoints(session, 'web01').names();
    await new SyncMarker(session, 'web01').incompleteOperation();
    await writeCloneRecord(session, 'web01', { operation: 'op-1', files: ['/vms/web01.qcow2'] });
    expect(calls.map((call) => call.command.slice(0, prefix.length + 1))).toEqual(Array(5).fill(`${prefix} `));
  });
});
