import { ErrorCode, KvmCloneError } from '../errors';
import { writablePools, writableRoots } from '../domain/schemas/host';
import { requireUnderRoots, type ResolvedPath, type ResolvedRoot } from '../domain/writable-roots';
import { Libvirt } from '../hosts/libvirt';
import { resolvePaths } from '../hosts/path-probe';
import { describeHost, type SshSession } from '../hosts/ssh-session';
import { tpmStateRoot } from '../hosts/tpm-state';

/**
 * The directories an operation may write into on a host, as configured: the host's
 * writable directories and its writable pools' directories (for disks), and libvirt's TPM
 * state directory (for TPM state, which libvirt keeps nowhere else).
 */
export interface WritableAreas {
  diskRoots: string[];
  tpmRoot: string;
}

export async function writableAreas(session: SshSession): Promise<WritableAreas> {
  const libvirt = new Libvirt(session);
  const poolRoots: string[] = [];
  for (const pool of writablePools(session.host)) {
    // A writable pool that is missing or stopped adds no directory; the clone that names it fails on its own.
    const target = await libvirt.poolTargetPath(pool).catch(() => undefined);
    if (target) poolRoots.push(target);
  }
  return {
    diskRoots: [...new Set([...writableRoots(session.host), ...poolRoots])],
    tpmRoot: await tpmStateRoot(session),
  };
}

/** Roots with what the host resolves them to, then the paths likewise: one command. */
async function resolveWithRoots(
  session: SshSession,
  roots: readonly string[],
  paths: readonly string[],
): Promise<{ roots: ResolvedRoot[]; paths: ResolvedPath[] }> {
  const resolved = await resolvePaths(session, [...roots, ...paths]);
  return {
    roots: resolved.slice(0, roots.length).map(({ path, real }) => ({ path, real })),
    paths: resolved.slice(roots.length),
  };
}

/**
 * Refuses (1302) before anything is written when any path is not strictly below the
 * host's writable roots (disk roots and the TPM root), as written and as the host
 * resolves it: neither `..` nor a symlink inside a root leads out. Workflows compute
 * destination paths from the source's data, so every activity that writes, renames or
 * removes on a destination calls this first: the last line of defence.
 * Returns what each path is on the host, for the caller's own checks (regular file, missing).
 */
export async function assertWritable(
  session: SshSession,
  paths: readonly string[],
  what: string,
): Promise<ResolvedPath[]> {
  if (paths.length === 0) return [];
  const areas = await writableAreas(session);
  const resolved = await resolveWithRoots(session, [...areas.diskRoots, areas.tpmRoot], paths);
  for (const path of resolved.paths) requireUnderRoots(path, resolved.roots, what);
  return resolved.paths;
}

/** Like assertWritable, for directories removed whole (a clone's TPM state): strictly below the TPM root only. */
export async function assertRemovableTpmDirectories(
  session: SshSession,
  directories: readonly string[],
): Promise<ResolvedPath[]> {
  if (directories.length === 0) return [];
  const resolved = await resolveWithRoots(session, [await tpmStateRoot(session)], directories);
  for (const directory of resolved.paths) {
    requireUnderRoots(directory, resolved.roots, 'TPM state directory');
    if (directory.kind !== 'directory' && directory.kind !== 'missing') {
      throw new KvmCloneError(
        ErrorCode.INVALID_PATH,
        `${directory.path} on ${describeHost(session.host)} is a ${directory.kind}, not a TPM state directory; it is left alone`,
        { path: directory.path },
        { retryable: false },
      );
    }
  }
  return resolved.paths;
}

/** A directory disks may be written into: one of the disk roots or below one, as written and as resolved; else 1302. */
export async function assertWritableDirectory(
  session: SshSession,
  directory: string,
  what: string,
): Promise<ResolvedPath> {
  const areas = await writableAreas(session);
  const resolved = await resolveWithRoots(session, areas.diskRoots, [directory]);
  const [path] = resolved.paths;
  requireUnderRoots(path!, resolved.roots, what, { allowRoot: true });
  return path!;
}

/** Refuses (1302) a path that is a symlink or not a regular file: an operation writes only into files it made. */
export function requireRegularFile(path: ResolvedPath, host: string, what: string): void {
  if (path.kind !== 'file') {
    throw new KvmCloneError(
      ErrorCode.INVALID_PATH,
      `${what} ${path.path} on ${host} is ${path.kind === 'missing' ? 'missing' : `a ${path.kind}`}, not a regular file; kvm-clone writes only into regular files`,
      {
        path: path.path,
        kind: path.kind,
      },
      { retryable: false },
    );
  }
}
