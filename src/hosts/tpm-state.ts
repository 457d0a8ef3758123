import { ErrorCode, KvmCloneError } from '../errors';
import { isSafeRelativePath } from '../domain/paths';
import { sh } from '../domain/shell-quote';
import type { SshSession } from './ssh-session';

/**
 * Where libvirt keeps a domain's emulated TPM (swtpm) state on a host: under the user's
 * config directory for qemu:///session, under /var/lib/libvirt for the system instance.
 * The directory is named by the domain's UUID, which is why a clone with TPM state gets
 * its UUID chosen up front.
 */
export async function tpmStateDir(session: SshSession, uuid: string): Promise<string> {
  return `${await tpmStateRoot(session)}/${uuid}`;
}

/** The directory holding every domain's TPM state directory on a host: what a clone may write TPM state into. */
export async function tpmStateRoot(session: SshSession): Promise<string> {
  if (!/session/.test(session.host.libvirtUri)) return '/var/lib/libvirt/swtpm';
  const home = (
    await session.run(sh`printf %s "\${XDG_CONFIG_HOME:-$HOME/.config}"`, { what: 'finding the config directory' })
  ).trim();
  return `${home}/libvirt/qemu/swtpm`;
}

/**
 * The state files under a TPM state directory, as paths relative to it; none when it is
 * missing. Regular files only (`-type f` skips symlinks), NUL-separated so a name with a
 * newline cannot split into two.
 */
export async function tpmStateFiles(session: SshSession, dir: string): Promise<string[]> {
  const output = await session.run(sh`if [ -d ${dir} ]; then cd ${dir} && find . -type f ! -name .lock -print0; fi`, {
    what: `listing ${dir}`,
    failureCode: ErrorCode.CLONE_ERROR,
  });
  return parseTpmStateListing(output, dir);
}

/**
 * `find . -print0` output as relative paths, sorted. The source host's listing names files
 * the clone creates on the destination, so every entry must be a relative path of safe
 * components (no `..`, no absolute path, no control characters): anything else is 1302.
 */
export function parseTpmStateListing(output: string, dir: string): string[] {
  const entries = output.split('\0').filter((entry) => entry.length > 0);
  return entries
    .map((entry) => {
      const relative = entry.startsWith('./') ? entry.slice(2) : entry;
      if (!entry.startsWith('./') || !isSafeRelativePath(relative)) {
        throw new KvmCloneError(
          ErrorCode.INVALID_PATH,
          `the TPM state listing of ${dir} names ${JSON.stringify(entry)}, which is not a file inside it`,
          { dir, entry },
          { retryable: false },
        );
      }
      return relative;
    })
    .sort();
}
