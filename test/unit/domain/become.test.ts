import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { becomeCommand, sudoersRule, sudoRefusal } from '../../../src/domain/become';
import { sh } from '../../../src/domain/shell-quote';
import { ErrorCode, KvmCloneError } from '../../../src/errors';

/** What a login shell prints for `command`, with `sudo` a stand-in that drops `-n` and runs the rest. */
function runAsLoginShell(command: string): string {
  return execFileSync('/bin/sh', ['-c', `sudo() { [ "$1" = -n ] || exit 99; shift; "$@"; }; ${command}`], {
    encoding: 'utf8',
  });
}

const context = { host: 'kvmadmin@kvm1', user: 'kvmadmin' };

describe('becomeCommand', () => {
  it('leaves the command as it is without become', () => {
    const command = sh`virsh -c ${'qemu:///system'} list`;
    expect(becomeCommand(command, undefined)).toBe(command);
  });

  it('runs the whole command line as one argument of sudo -n /bin/sh -c', () => {
    expect(becomeCommand(sh`virsh list --all | wc -l`, 'sudo').text).toBe(
      "sudo -n /bin/sh -c 'virsh list --all | wc -l'",
    );
  });

  it('attack: names with quotes, $(...), ; and newlines reach /bin/sh as the same words, parsed once', () => {
    const name = 'web\'01 $(touch /tmp/pwned); `id`\nnext \\ "x"';
    const command = sh`printf '[%s]\n' ${name} ${'two words'} && echo "$((1 + 2))"`;
    const direct = runAsLoginShell(command.text);
    expect(direct).toBe(`[${name}]\n[two words]\n3\n`);
    expect(runAsLoginShell(becomeCommand(command, 'sudo').text)).toBe(direct);
  });
});

describe('sudoersRule', () => {
  it('is the rule for /bin/sh as root without a password', () => {
    expect(sudoersRule('kvmadmin')).toBe('kvmadmin ALL=(root) NOPASSWD: /bin/sh');
  });
});

describe('sudoRefusal', () => {
  const refusals = [
    'sudo: a password is required',
    "Sorry, user kvmadmin is not allowed to execute '/bin/sh -c virsh list' as root on kvm1.",
    'sudo: Sorry, user kvmadmin is not allowed to execute /bin/sh as root on kvm1.',
    'kvmadmin is not in the sudoers file.  This incident will be reported.',
    'sudo: kvmadmin is not in the sudoers file',
    'sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper',
    'sudo: sorry, you must have a tty to run sudo',
    'sh: 1: sudo: not found',
    'bash: line 1: sudo: command not found',
  ];

  it.each(refusals)('is 1102 naming the command, sudo and the rule for: %s', (stderr) => {
    const error = sudoRefusal(`${stderr}\n`, 'virsh -c qemu:///system list', context);
    expect(error).toBeInstanceOf(KvmCloneError);
    expect(error!.code).toBe(ErrorCode.PERMISSION_DENIED);
    expect(error!.retryable).toBe(false);
    expect(error!.message).toBe(
      `kvmadmin@kvm1: cannot run 'virsh -c qemu:///system list' as root through sudo (${stderr.trim()}); the host has become: sudo, which runs every command as 'sudo -n /bin/sh -c …' and needs the sudoers rule 'kvmadmin ALL=(root) NOPASSWD: /bin/sh' (in /etc/sudoers.d, checked with visudo -cf)`,
    );
    expect(error!.details).toMatchObject({
      host: 'kvmadmin@kvm1',
      command: 'virsh -c qemu:///system list',
      sudoersRule: 'kvmadmin ALL=(root) NOPASSWD: /bin/sh',
    });
  });

  it('finds the refusal after other lines, and quotes sudo line alone', () => {
    const error = sudoRefusal('sudo: unable to resolve host kvm1\nsudo: a password is required\n', 'id', context);
    expect(error?.details.sudo).toBe('sudo: a password is required');
  });

  it("is undefined for a command's own failure, so it is reported as without sudo", () => {
    for (const stderr of [
      '',
      "error: failed to get domain 'web01'",
      "dd: error writing '/images/a.img': No space left on device",
      'cat: /root/x: Permission denied',
      // A domain named like a sudo message is the command's output, not sudo's.
      "error: domain 'sudo: a password is required' not found",
    ]) {
      expect(sudoRefusal(stderr, 'virsh', context)).toBeUndefined();
    }
  });
});
