import { ErrorCode } from '../errors';
import { sh } from '../domain/shell-quote';
import type { SshSession } from './ssh-session';

/**
 * Where libvirt keeps a domain's emulated TPM (swtpm) state on a host: under the user's
 * config directory for qemu:///session, under /var/lib/libvirt for the system instance.
 * The directory is named by the domain's UUID, which is why a clone with TPM state gets
 * its UUID chosen up front.
 */
export async function tpmStateDir(session: SshSession, uuid: string): Promise<string> {
  if (!/session/.test(session.host.libvirtUri)) return `/var/lib/libvirt/swtpm/${uuid}`;
  const home = (await session.run(sh`printf %s "\${XDG_CONFIG_HOME:-$HOME/.config}"`, { what: 'finding the config directory' })).trim();
  return `${home}/libvirt/qemu/swtpm/${uuid}`;
}

/** The state files under a TPM state directory, as paths relative to it; none when it is missing. */
export async function tpmStateFiles(session: SshSession, dir: string): Promise<string[]> {
  const output = await session.run(sh`if [ -d ${dir} ]; then cd ${dir} && find . -type f ! -name .lock -print; fi`, { what: `listing ${dir}`, failureCode: ErrorCode.CLONE_ERROR });
  return output
    .split('\n')
    .filter((line) => line.startsWith('./'))
    .map((line) => line.slice(2))
    .sort();
}
