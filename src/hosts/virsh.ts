import { ErrorCode } from '../errors';
import { sh, type ShellFragment } from '../domain/shell-quote';
import type { ExecResult, SshSession } from './ssh-session';

/**
 * `virsh` on the session's host, against the libvirt URI configured for that host, so
 * every call reaches the same libvirt an administrator's virsh would. `--quiet` keeps
 * virsh's own notes out of output that is parsed.
 */
function virsh(session: SshSession, args: ShellFragment): ShellFragment {
  return sh`virsh --quiet -c ${session.host.libvirtUri} ${args}`;
}

/** Runs a virsh command whatever its outcome: for callers that tell an expected failure from a real one. */
export function execVirsh(session: SshSession, args: ShellFragment): Promise<ExecResult> {
  return session.exec(virsh(session, args));
}

/** Runs a virsh command for its output; a failure is a LIBVIRT_ERROR that names `what`. */
export function runVirsh(
  session: SshSession,
  args: ShellFragment,
  what: string,
  options: { stdin?: string } = {},
): Promise<string> {
  return session.run(virsh(session, args), { ...options, what, failureCode: ErrorCode.LIBVIRT_ERROR });
}
