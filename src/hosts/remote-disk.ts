import { posix } from 'node:path';
import { ErrorCode, KvmCloneError } from '../errors';
import { joinShell, sh } from '../domain/shell-quote';
import type { ImageMapEntry } from '../domain/change-tracking';
import type { Extent } from '../domain/transfer-plan';
import { parseBackingChain, type BackingChainEntry } from './backing-chain';
import type { SshSession } from './ssh-session';

export type { BackingChainEntry } from './backing-chain';

interface QemuImgMapEntry {
  start: number;
  length: number;
  data: boolean;
  zero: boolean;
}

/** Files and images on one host, read and written through its SSH session. */
export class RemoteDisk {
  constructor(private readonly session: SshSession) {}

  /**
   * The image and every image below it, top first, with absolute paths. Fails when a
   * backing file is missing or unreadable, since a chain with a hole cannot be copied.
   */
  async backingChain(path: string): Promise<BackingChainEntry[]> {
    const output = await this.session.run(sh`qemu-img info -U --backing-chain --output=json -- ${path}`, {
      what: `reading the backing chain of ${path}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
    return parseBackingChain(output, path);
  }

  /**
   * Points a qcow2 overlay at another backing file without reading or changing any data:
   * for a copied chain, whose images hold the same bytes under new names.
   */
  async rebaseUnsafe(path: string, backingPath: string, backingFormat: string): Promise<void> {
    await this.session.run(sh`qemu-img rebase -u -f qcow2 -b ${backingPath} -F ${backingFormat} -- ${path}`, {
      what: `pointing ${path} at backing file ${backingPath}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
  }

  /**
   * Writes the guest-visible contents of an image and everything below it into one
   * standalone image. qemu-img convert skips zeroes, so the output stays sparse.
   * `sourceFormat` avoids format probing, which a raw guest disk could fool.
   */
  async flattenInto(topPath: string, outputPath: string, format: string, options: { sourceFormat?: string } = {}): Promise<void> {
    const source = options.sourceFormat === undefined ? sh`` : sh`-f ${options.sourceFormat} `;
    await this.session.run(sh`mkdir -p -- ${posix.dirname(outputPath)} && qemu-img convert ${source}-O ${format} -- ${topPath} ${outputPath}`, {
      what: `flattening ${topPath} into ${outputPath}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
  }

  /** Copies a small file within the host, such as a VM's NVRAM, keeping its holes. */
  async copyFileLocal(from: string, to: string): Promise<void> {
    await this.session.run(sh`mkdir -p -- ${posix.dirname(to)} && cp --sparse=always -- ${from} ${to}`, {
      what: `copying ${from} to ${to}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
  }

  /** The file's apparent size in bytes, or undefined when it does not exist. */
  async fileSize(path: string): Promise<number | undefined> {
    const result = await this.session.exec(sh`stat -L -c %s -- ${path}`);
    if (result.exitCode !== 0) return undefined;
    return Number(result.stdout.toString('utf8').trim());
  }

  /**
   * The byte ranges of a file that hold data, from `qemu-img map -f raw` (4 KiB
   * granularity; for a qcow2 file too, since the file itself is what gets copied).
   */
  async dataExtents(path: string, range: { start: number; length: number }): Promise<Extent[]> {
    if (range.length === 0) return [];
    const output = await this.session.run(sh`qemu-img map -U --output=json -f raw --start-offset=${range.start} --max-length=${range.length} -- ${path}`, {
      what: 'qemu-img map',
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
    return (JSON.parse(output) as QemuImgMapEntry[]).filter((entry) => entry.data).map((entry) => ({ start: entry.start, length: entry.length }));
  }

  /**
   * Where a qcow2 image keeps each guest range, from `qemu-img map` of the image itself.
   * `-U` because the image may be a running domain's base, held read-only under an overlay.
   */
  async imageMap(path: string): Promise<ImageMapEntry[]> {
    const output = await this.session.run(sh`qemu-img map -U --output=json -f qcow2 -- ${path}`, { what: `mapping ${path}`, failureCode: ErrorCode.TRANSFER_ERROR });
    return (JSON.parse(output) as ImageMapEntry[]).map((entry) => ({
      start: entry.start,
      length: entry.length,
      depth: entry.depth,
      ...(entry.offset === undefined ? {} : { offset: entry.offset }),
    }));
  }

  /**
   * Size, modification and change time of each file, by path: any write, truncation,
   * chown or relabel (libvirt does both when a VM starts) changes one of them.
   */
  async fingerprints(paths: readonly string[]): Promise<Record<string, string>> {
    if (paths.length === 0) return {};
    const output = await this.session.run(sh`stat -L -c '%s %.9Y %.9Z' -- ${[...paths]}`, { what: 'reading file times', failureCode: ErrorCode.TRANSFER_ERROR });
    const lines = output.split('\n').filter((line) => line.length > 0);
    return Object.fromEntries(paths.map((path, index) => [path, lines[index] ?? '']));
  }

  /** Creates an empty sparse file of `size` bytes, replacing any file at `path`. */
  async createSparseFile(path: string, size: number): Promise<void> {
    await this.session.run(sh`mkdir -p -- ${posix.dirname(path)} && rm -f -- ${path} && truncate -s ${size} -- ${path}`, {
      what: `creating ${path}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
  }

  /** Deallocates byte ranges of a file, which then read as zeros: a sync's way to write zeros. */
  async punchHoles(path: string, extents: readonly Extent[]): Promise<void> {
    if (extents.length === 0) return;
    const commands = extents.map((extent) => sh`fallocate --punch-hole --offset ${extent.start} --length ${extent.length} -- ${path}`);
    await this.session.run(joinShell(commands, ' && '), { what: `punching holes in ${path}`, failureCode: ErrorCode.TRANSFER_ERROR });
  }

  /** Grows or shrinks a file to `size` bytes; growth is a hole. */
  async resize(path: string, size: number): Promise<void> {
    await this.session.run(sh`truncate -s ${size} -- ${path}`, { what: `resizing ${path}`, failureCode: ErrorCode.TRANSFER_ERROR });
  }

  async exists(path: string): Promise<boolean> {
    const result = await this.session.exec(sh`test -e ${path}`);
    return result.exitCode === 0;
  }

  async isDirectory(path: string): Promise<boolean> {
    const result = await this.session.exec(sh`test -d ${path}`);
    return result.exitCode === 0;
  }

  async removeFiles(paths: string[]): Promise<void> {
    if (paths.length === 0) return;
    await this.session.run(sh`rm -f -- ${paths}`, { what: 'removing files' });
  }

  /** Bytes available to unprivileged writers in the filesystem holding `dir`. */
  async freeSpace(dir: string): Promise<number> {
    const output = await this.session.run(sh`df -P -B1 -- ${dir} | tail -n 1`, { what: 'df', failureCode: ErrorCode.GENERAL_ERROR });
    const available = Number(output.trim().split(/\s+/)[3]);
    if (!Number.isFinite(available)) {
      throw new KvmCloneError(ErrorCode.GENERAL_ERROR, `cannot read the free space of ${dir}: ${output.trim()}`);
    }
    return available;
  }
}
