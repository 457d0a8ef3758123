import { closeSync, constants, lstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** 5 MiB a file: the log and the one rotated before it keep the last 5 to 10 MiB. */
export const DEFAULT_MAX_LOG_BYTES = 5 * 1024 * 1024;

/** The file's size, 0 when it is absent; anything but a regular file is refused, so a log never follows a link. */
function sizeOf(file: string): number {
  try {
    const stats = lstatSync(file);
    if (!stats.isFile()) throw new Error(`${file} is not a regular file; the log is not written there`);
    return stats.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

/**
 * A log file that never grows much past `maxBytes`: when a write would pass it, the file
 * becomes `<path>.1` (replacing the one before) and a new file starts. Writes are
 * synchronous, so what was logged before the CLI exits on an error (process.exit) is on disk.
 */
export class RotatingLogFile {
  constructor(
    readonly path: string,
    private readonly maxBytes = DEFAULT_MAX_LOG_BYTES,
  ) {
    mkdirSync(dirname(this.path), { recursive: true });
  }

  /** The path of the rotated predecessor. */
  get previousPath(): string {
    return `${this.path}.1`;
  }

  write(text: string): void {
    // The size on disk, not a count of this process's writes: other commands append to the file and rotate it too.
    const size = sizeOf(this.path);
    if (size > 0 && size + Buffer.byteLength(text) > this.maxBytes) this.rotate();
    // Owner only: the log names hosts, paths and operations.
    const fd = openSync(this.path, APPEND, 0o600);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  }

  private rotate(): void {
    sizeOf(this.previousPath);
    try {
      renameSync(this.path, this.previousPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
