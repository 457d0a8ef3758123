import { ErrorCode, KvmCloneError } from '../errors';
import { sh } from '../domain/shell-quote';
import type { PathKind, ResolvedPath } from '../domain/writable-roots';
import type { SshSession } from './ssh-session';

const kinds = new Set<PathKind>(['file', 'directory', 'symlink', 'other', 'missing']);

/**
 * What each path is on the host and where it really leads (`realpath -m`: every symlink
 * followed, `..` applied, missing components allowed), in one command. Output is
 * NUL-separated, so no file name can forge an entry.
 */
export async function resolvePaths(session: SshSession, paths: readonly string[]): Promise<ResolvedPath[]> {
  if (paths.length === 0) return [];
  for (const path of paths) {
    if (!path.startsWith('/') || path.includes('\0')) {
      throw new KvmCloneError(
        ErrorCode.INVALID_PATH,
        `not an absolute path: ${JSON.stringify(path)}`,
        { path },
        { retryable: false },
      );
    }
  }
  const script = sh`for p in ${[...paths]}; do
if [ -L "$p" ]; then k=symlink; elif [ -f "$p" ]; then k=file; elif [ -d "$p" ]; then k=directory; elif [ -e "$p" ]; then k=other; else k=missing; fi
printf '%s\\0' "$k" && realpath -m -z -- "$p" || exit 1
done`;
  const output = await session.run(script, {
    what: 'resolving destination paths',
    failureCode: ErrorCode.GENERAL_ERROR,
  });
  const fields = output.split('\0');
  return paths.map((path, index) => {
    const kind = fields[index * 2] as PathKind;
    const real = fields[index * 2 + 1];
    if (!kinds.has(kind) || real === undefined || !real.startsWith('/')) {
      throw new KvmCloneError(ErrorCode.GENERAL_ERROR, `cannot resolve ${path} on the host: unexpected output`, {
        path,
      });
    }
    return { path, real, kind };
  });
}
