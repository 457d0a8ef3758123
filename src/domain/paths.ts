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

/**
 * `dir/fileName`, normalised. `fileName` is one safe component, or a relative path of safe
 * components (a TPM state file below its directory), so the result always lies under
 * `dir`; anything else (`..`, an absolute path, control characters) is 1302.
 */
export function joinPath(dir: string, fileName: string): string {
  if (!isSafeRelativePath(fileName)) {
    throw new KvmCloneError(
      ErrorCode.INVALID_PATH,
      `${JSON.stringify(fileName)} is not a relative path that stays inside ${dir}`,
      { dir, fileName },
    );
  }
  const joined = normalizeAbsolutePath(`${dir}/${fileName}`);
  if (!isUnder(dir, joined) || joined === normalizeAbsolutePath(dir)) {
    throw new KvmCloneError(ErrorCode.INVALID_PATH, `${JSON.stringify(fileName)} leaves ${dir}`, { dir, fileName });
  }
  return joined;
}

/** The directory of an absolute path; `/` for a file at the root. Pure string work, so workflows can use it. */
export function directoryOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}
