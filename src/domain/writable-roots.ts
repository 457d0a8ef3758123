import { ErrorCode, KvmCloneError } from '../errors';
import { isUnder, normalizeAbsolutePath } from './paths';

/** What is at a path on a host; a symlink is reported as one, not as what it points at. */
export type PathKind = 'file' | 'directory' | 'symlink' | 'other' | 'missing';

/** A path on a host with what the host resolves it to (`realpath -m`: symlinks followed, `..` applied). */
export interface ResolvedPath {
  path: string;
  real: string;
  kind: PathKind;
}

/** A writable root as configured and as the host resolves it (a root may itself be a symlink to the real storage). */
export interface ResolvedRoot {
  path: string;
  real: string;
}

// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/;

/**
 * Whether `path` lies under a root both as written (no `..` walks out) and as the host
 * resolves it (no symlink inside a root leads out). A path written through a root's other
 * name (the root resolved) counts as under it. A root itself is writable only as a
 * directory (`allowRoot`): a file operation never replaces or removes a root.
 */
export function isUnderResolvedRoots(
  resolved: ResolvedPath,
  roots: readonly ResolvedRoot[],
  options: { allowRoot?: boolean } = {},
): boolean {
  if (controlCharacters.test(resolved.path)) return false;
  const written = normalizeAbsolutePath(resolved.path);
  const real = normalizeAbsolutePath(resolved.real);
  const below = (root: string, full: string) =>
    isUnder(root, full) && (options.allowRoot || normalizeAbsolutePath(root) !== full);
  const writtenInside = roots.some((root) => below(root.path, written) || below(root.real, written));
  const realInside = roots.some((root) => below(root.real, real));
  return writtenInside && realInside;
}

/** The normalised path when it is under the roots (see isUnderResolvedRoots); else 1302 naming it and the roots. */
export function requireUnderRoots(
  resolved: ResolvedPath,
  roots: readonly ResolvedRoot[],
  what: string,
  options: { allowRoot?: boolean } = {},
): string {
  if (!resolved.path.startsWith('/') || !isUnderResolvedRoots(resolved, roots, options)) {
    const leadsTo =
      resolved.real && resolved.real !== resolved.path ? ` (it resolves to ${JSON.stringify(resolved.real)})` : '';
    throw new KvmCloneError(
      ErrorCode.INVALID_PATH,
      `${what} ${JSON.stringify(resolved.path)}${leadsTo} is outside the directories this host allows (${roots.map((root) => root.path).join(', ') || 'none'})`,
      { path: resolved.path, real: resolved.real, roots: roots.map((root) => root.path) },
      { retryable: false },
    );
  }
  return normalizeAbsolutePath(resolved.path);
}

/**
 * An operation's partial copy (`<final>.kvm-clone-<tag>.part`): a name only kvm-clone gives, so a retry may recreate
 * it.
 */
export function isPartialPath(path: string): boolean {
  return /\.kvm-clone-[A-Za-z0-9_-]+\.part$/.test(path);
}
