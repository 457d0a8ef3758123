import { ErrorCode, KvmCloneError } from '../errors';

/**
 * An absolute path with `.` and empty components dropped and `..` applied, as the kernel
 * would read it before symlinks. Pure string work, so workflows can use it too.
 */
export function normalizeAbsolutePath(path: string): string {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new KvmCloneError(ErrorCode.INVALID_PATH, `not an absolute path: ${JSON.stringify(path)}`, { path });
  }
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** True when `path`, normalised, is `root` itself or lies below it. */
export function isUnder(root: string, path: string): boolean {
  const base = normalizeAbsolutePath(root);
  const full = normalizeAbsolutePath(path);
  return full === base || full.startsWith(base === '/' ? '/' : `${base}/`);
}

/** One component of a path: not empty, not `.` or `..`, no `/`, NUL or control characters. */
export function isSafeFileName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\u0000-\u001f\u007f]/.test(name);
}

/** A relative path of safe components (a TPM state file inside its directory). */
export function isSafeRelativePath(path: string): boolean {
  return path.length > 0 && path.length <= 1024 && path.split('/').every(isSafeFileName);
}
