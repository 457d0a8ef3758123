import { describe, expect, it } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import type { ShellFragment } from '../../../src/domain/shell-quote';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { blockJobPercent, LiveSnapshot, type FrozenDisk, type MergeProgress } from '../../../src/hosts/live-snapshot';
import { SshSession, type ExecOptions, type ExecResult } from '../../../src/hosts/ssh-session';

const host = hostSpecSchema.parse({ address: '10.0.0.11' });
const disk: FrozenDisk = { target: 'vda', basePath: '/vms/web01.qcow2', overlayPath: '/vms/web01.kvm-clone-1.qcow2' };

function domainXml(source: string): string {
  return `<domain type='kvm'><name>web01</name><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${source}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
}

/**
 * An SshSession whose channel is replaced by `respond`, keyed by the remote command line:
 * everything above exec (run, its error handling) is the real code.
 */
function scriptedSession(
  respond: (command: string, stdin?: string | Buffer) => Partial<ExecResult> & { out?: string },
): {
  session: SshSession;
  commands: string[];
  limits: ExecOptions[];
} {
  const commands: string[] = [];
  const limits: ExecOptions[] = [];
  const session = Object.create(SshSession.prototype) as SshSession;
  Object.assign(session, {
    host,
    exec: async (command: ShellFragment, options: ExecOptions = {}): Promise<ExecResult> => {
      commands.push(command.text);
      limits.push(options);
      const { out, ...result } = respond(command.text, options.stdin);
      return { stdout: Buffer.from(out ?? ''), stderr: '', exitCode: 0, ...result };
    },
  });
  return { session, commands, limits };
}

describe('LiveSnapshot.mergeBack', () => {
  it('pivots a block commit that a lost attempt left running, once it reaches 100 %', async () => {
    let polls = 0;
    const { session, commands } = scriptedSession((command) => {
      if (command.includes('domstate')) return { out: 'running\n' };
      if (command.includes('dumpxml')) return { out: domainXml(disk.overlayPath) };
      if (command.includes('blockcommit')) return { exitCode: 1, stderr: 'error: block copy still active' };
      if (command.includes('--info'))
        return { out: polls++ === 0 ? 'Active Block Commit: [ 50 %]' : 'Active Block Commit: [100 %]' };
      return {};
    });
    await expect(new LiveSnapshot(session, 'web01').mergeBack([disk], '<domain/>')).resolves.toBe('merged-live');
    expect(polls).toBe(2);
    expect(commands.filter((command) => command.includes('blockjob --domain web01 vda --pivot'))).toHaveLength(1);
    expect(commands.at(-1)).toBe(`rm -f -- ${disk.overlayPath}`);
  });

  it('accepts a commit that a lost attempt already finished, and fails with 1009 (LIBVIRT_ERROR) when the disk is still on its overlay', async () => {
    const finished = scriptedSession((command) => {
      if (command.includes('domstate')) return { out: 'running\n' };
      // mergeBack sees the overlay; after the failed blockcommit the domain is back on its base.
      if (command.includes('dumpxml'))
        return {
          out: domainXml(
            finished.commands.some((seen) => seen.includes('blockcommit')) ? disk.basePath : disk.overlayPath,
          ),
        };
      if (command.includes('blockcommit')) return { exitCode: 1, stderr: 'error: no active block job' };
      if (command.includes('--info')) return { out: 'No current block job for vda' };
      return {};
    });
    await expect(new LiveSnapshot(finished.session, 'web01').mergeBack([disk], '<domain/>')).resolves.toBe(
      'merged-live',
    );
    expect(finished.commands.some((command) => command.includes('--pivot') && command.includes('blockjob'))).toBe(
      false,
    );

    const stuck = scriptedSession((command) => {
      if (command.includes('domstate')) return { out: 'running\n' };
      if (command.includes('dumpxml')) return { out: domainXml(disk.overlayPath) };
      if (command.includes('blockcommit')) return { exitCode: 1, stderr: 'error: disk vda is read-only' };
      if (command.includes('--info')) return { out: 'No current block job for vda' };
      return {};
    });
    const error = await new LiveSnapshot(stuck.session, 'web01')
      .mergeBack([disk], '<domain/>')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KvmCloneError);
    expect((error as KvmCloneError).code).toBe(ErrorCode.LIBVIRT_ERROR);
    expect((error as KvmCloneError).message).toBe(
      `root@10.0.0.11: merging ${disk.overlayPath} back into ${disk.basePath} failed: error: disk vda is read-only`,
    );
    // Nothing is removed when the merge failed: the overlay still holds the guest's writes.
    expect(stuck.commands.some((command) => command.startsWith('rm '))).toBe(false);
  });

  it('starts the commit without --wait, reports progress at every poll, and pivots once the job is ready', async () => {
    const percents = [
      'Active Block Commit: [  0 %]',
      'Active Block Commit: [ 37.5 %]',
      'Active Block Commit: [100 %]',
      'Active Block Commit: [100 %]',
    ];
    let pivots = 0;
    const { session, commands } = scriptedSession((command) => {
      if (command.includes('domstate')) return { out: 'running\n' };
      if (command.includes('dumpxml')) return { out: domainXml(disk.overlayPath) };
      if (command.includes('blockcommit')) return { out: 'Block Commit started' };
      if (command.includes('--info')) return { out: percents.shift() ?? 'Active Block Commit: [100 %]' };
      // The first pivot comes a moment before the job is ready.
      if (command.includes('--pivot'))
        return pivots++ === 0 ? { exitCode: 1, stderr: 'error: block job not ready for pivot yet' } : {};
      return {};
    });
    const progress: MergeProgress[] = [];
    await expect(
      new LiveSnapshot(session, 'web01').mergeBack([disk], '<domain/>', { onProgress: (each) => progress.push(each) }),
    ).resolves.toBe('merged-live');
    expect(commands).toContain('virsh --quiet -c qemu:///system blockcommit --domain web01 vda --active');
    expect(commands.some((command) => command.includes('--wait'))).toBe(false);
    expect(progress).toEqual([
      { target: 'vda', percent: 0 },
      { target: 'vda', percent: 37.5 },
      { target: 'vda', percent: 100 },
      { target: 'vda', percent: 100 },
    ]);
    expect(pivots).toBe(2);
  });

  it('stops following the block job once its activity is cancelled; the job runs on for a retry', async () => {
    const controller = new AbortController();
    const { session, commands } = scriptedSession((command) => {
      if (command.includes('domstate')) return { out: 'running\n' };
      if (command.includes('dumpxml')) return { out: domainXml(disk.overlayPath) };
      if (command.includes('--info')) {
        controller.abort(new Error('activity cancelled'));
        return { out: 'Active Block Commit: [ 10 %]' };
      }
      return {};
    });
    await expect(
      new LiveSnapshot(session, 'web01').mergeBack([disk], '<domain/>', { signal: controller.signal }),
    ).rejects.toThrow('activity cancelled');
    expect(commands.some((command) => command.includes('abort') || command.startsWith('rm '))).toBe(false);
  });

  it('reads the percentage of virsh blockjob --info', () => {
    expect(blockJobPercent('Active Block Commit: [ 45 %]')).toBe(45);
    expect(blockJobPercent('Block Commit: [100 %]\n')).toBe(100);
    expect(blockJobPercent('Active Block Commit: [ 12.75 %]')).toBe(12.75);
    expect(blockJobPercent('No current block job for vda')).toBeUndefined();
  });

  it('merges a domain that stopped meanwhile offline and restores its definition from the original XML', async () => {
    const stdins: (string | Buffer | undefined)[] = [];
    const { session, commands, limits } = scriptedSession((command, stdin) => {
      stdins.push(stdin);
      if (command.includes('domstate')) return { out: 'shut off\n' };
      if (command.includes('dumpxml')) return { out: domainXml(disk.overlayPath) };
      return {};
    });
    await expect(new LiveSnapshot(session, 'web01').mergeBack([disk], '<domain>original</domain>')).resolves.toBe(
      'merged-offline',
    );
    expect(commands).toContain(`qemu-img commit -f qcow2 -- ${disk.overlayPath}`);
    // The commit of a big overlay has no time limit of its own: the activity heartbeats meanwhile.
    expect(limits[commands.indexOf(`qemu-img commit -f qcow2 -- ${disk.overlayPath}`)]!.timeoutMs).toBe(Infinity);
    expect(commands.some((command) => command.includes('blockcommit'))).toBe(false);
    expect(stdins[commands.findIndex((command) => command.includes('define --file /dev/stdin'))]).toBe(
      '<domain>original</domain>',
    );
  });

  it('does nothing when no disk is on its overlay any more', async () => {
    const { session, commands } = scriptedSession((command) =>
      command.includes('domstate')
        ? { out: 'running\n' }
        : command.includes('dumpxml')
          ? { out: domainXml(disk.basePath) }
          : {},
    );
    await expect(new LiveSnapshot(session, 'web01').mergeBack([disk], '<domain/>')).resolves.toBe('nothing-to-merge');
    expect(commands.some((command) => command.includes('blockcommit') || command.includes('qemu-img'))).toBe(false);
  });
});
