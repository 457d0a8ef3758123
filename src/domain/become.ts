import { ErrorCode, KvmCloneError } from '../errors';
import { sh, type ShellFragment } from './shell-quote';

/** How a host's commands gain root: `sudo` runs each through `sudo -n`. Absent: as the SSH user. */
export type Become = 'sudo' | undefined;

/** The one command a sudoers rule must allow for `become: sudo`: every remote command is a script for it. */
export const BECOME_SHELL = '/bin/sh';

/**
 * The remote command line for a host: `command` itself, or with `become: sudo` the whole
 * command as one quoted argument of `sudo -n /bin/sh -c`. The login shell unquotes it and
 * /bin/sh parses it, exactly once each, as without sudo. `-n`: sudo never prompts, since
 * nobody could answer; a missing right fails at once (see sudoRefusal).
 */
export function becomeCommand(command: ShellFragment, become: Become): ShellFragment {
  if (become === undefined) return command;
  return sh`sudo -n ${BECOME_SHELL} -c ${command.text}`;
}

/** The rule `user` needs in /etc/sudoers.d for `become: sudo`. */
export function sudoersRule(user: string): string {
  return `${user} ALL=(root) NOPASSWD: ${BECOME_SHELL}`;
}

/**
 * sudo's own refusals (sudo 1.8 and 1.9), each on a line of its stderr: a rule that needs a
 * password, no rule for /bin/sh, no rule at all, `requiretty`, and no sudo on the host.
 */
const refusals: readonly RegExp[] = [
  /^sudo: a password is required\b/m,
  /^(?:sudo: )?Sorry, user \S+ is not allowed to execute\b/m,
  /^(?:sudo: )?\S+ is not in the sudoers file\b/m,
  /^sudo: a terminal is required\b/m,
  /^sudo: sorry, you must have a tty\b/m,
  /\bsudo: (?:command )?not found$/m,
];

/** Where a refused command ran: the host as errors name it, and the SSH user the rule is for. */
export interface BecomeContext {
  host: string;
  user: string;
}

/**
 * The 1102 error for a command that sudo refused to run (recognised in its stderr), naming
 * the command and the sudoers rule it needs; undefined when `stderr` holds no refusal, so
 * the command's own failure is reported as it would be without sudo.
 */
export function sudoRefusal(stderr: string, command: string, context: BecomeContext): KvmCloneError | undefined {
  const line = refusals.map((pattern) => pattern.exec(stderr)).find((match) => match !== null);
  if (!line) return undefined;
  const said = stderr
    .slice(stderr.lastIndexOf('\n', line.index) + 1)
    .split('\n')[0]!
    .trim();
  const rule = sudoersRule(context.user);
  return new KvmCloneError(
    ErrorCode.PERMISSION_DENIED,
    `${context.host}: cannot run '${command}' as root through sudo (${said}); the host has become: sudo, which runs every command as 'sudo -n ${BECOME_SHELL} -c …' and needs the sudoers rule '${rule}' (in /etc/sudoers.d, checked with visudo -cf)`,
    { host: context.host, user: context.user, command, sudo: said, sudoersRule: rule },
  );
}
