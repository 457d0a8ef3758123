import { EventEmitter } from 'node:events';
import type { Client } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { hostSpecSchema, type HostSpecInput } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { ErrorCode } from '../../../src/errors';
import { SshSession } from '../../../src/hosts/ssh-session';

/** A channel that prints `stderr` and exits with `code` as soon as it is opened. */
class ScriptedChannel extends EventEmitter {
  readonly stderr = new EventEmitter();

  constructor(
    private readonly code: number,
    private readonly stderrText: string,
  ) {
    super();
  }

  end(): void {
    setImmediate(() => {
      if (this.stderrText) this.stderr.emit('data', Buffer.from(this.stderrText));
      this.emit('exit', this.code);
      this.emit('close');
    });
  }

  close(): void {}
}

/** A session on `spec` whose commands all end with `code` and `stderr`; `commands` records what went to sshd. */
function scriptedSession(spec: HostSpecInput, code: number, stderr = '') {
  const commands: string[] = [];
  const client = Object.assign(new EventEmitter(), {
    exec: (command: string, callback: (error: Error | undefined, channel: ScriptedChannel) => void) => {
      commands.push(command);
      callback(undefined, new ScriptedChannel(code, stderr));
    },
    end: () => undefined,
  });
  return { session: new SshSession(hostSpecSchema.parse(spec), client as unknown as Client), commands };
}

const admin = { address: 'kvm1', user: 'kvmadmin', become: 'sudo' } as const;

describe('SshSession with become: sudo', () => {
  it('sends every command through sudo -n /bin/sh -c, and commands of other hosts as they are', async () => {
    const sudo = scriptedSession(admin, 0);
    await sudo.session.run(sh`virsh -c ${'qemu:///system'} list --name`);
    await sudo.session.exec(sh`test -e ${'/var/lib/libvirt/images/a b.img'}`);
    await sudo.session.openExec(sh`cat /dev/null`);
    expect(sudo.commands).toEqual([
      "sudo -n /bin/sh -c 'virsh -c qemu:///system list --name'",
      "sudo -n /bin/sh -c 'test -e '\\''/var/lib/libvirt/images/a b.img'\\'''",
      "sudo -n /bin/sh -c 'cat /dev/null'",
    ]);
    const plain = scriptedSession({ address: 'kvm1' }, 0);
    await plain.session.run(sh`virsh list`);
    expect(plain.commands).toEqual(['virsh list']);
  });

  it('fails with 1102 naming the command and the rule when sudo refuses, even where the caller reads the exit status', async () => {
    const { session } = scriptedSession(admin, 1, 'sudo: a password is required\n');
    const expected = {
      code: ErrorCode.PERMISSION_DENIED,
      message: expect.stringMatching(
        /^kvmadmin@kvm1: cannot run 'test -e \/srv\/vm.img' as root through sudo \(sudo: a password is required\);.* 'kvmadmin ALL=\(root\) NOPASSWD: \/bin\/sh'/,
      ),
    };
    // exec alone would have answered "no such file" with exit status 1.
    await expect(session.exec(sh`test -e /srv/vm.img`)).rejects.toMatchObject(expected);
    await expect(session.run(sh`test -e /srv/vm.img`)).rejects.toMatchObject(expected);
    await expect(session.run(sh`virsh list`, { what: 'virsh list' })).rejects.toMatchObject({
      code: ErrorCode.PERMISSION_DENIED,
      message: expect.stringContaining("cannot run 'virsh list' as root through sudo"),
    });
  });

  it("leaves a command's own failure to its caller", async () => {
    const { session } = scriptedSession(admin, 1, "error: failed to get domain 'web01'\n");
    await expect(session.exec(sh`virsh dominfo web01`)).resolves.toMatchObject({ exitCode: 1 });
    await expect(session.run(sh`virsh dominfo web01`)).rejects.toMatchObject({ code: ErrorCode.GENERAL_ERROR });
  });

  it('reads no sudo message from a host without become', async () => {
    const { session } = scriptedSession({ address: 'kvm1' }, 1, 'sudo: a password is required\n');
    await expect(session.exec(sh`./script`)).resolves.toMatchObject({ exitCode: 1 });
  });
});
