import { posix } from 'node:path';
import { ErrorCode, KvmCloneError } from '../errors';
import { joinShell, sh } from '../domain/shell-quote';
import type { ImageMapEntry } from '../domain/change-tracking';
import type { Extent } from '../domain/transfer-plan';
import { parseImageInfo, requireCopyableFormat, type BackingChainEntry } from './backing-chain';
import type { SshSession } from './ssh-session';
import { scanBlockDevice } from './zero-scan';

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
   *
   * Formats are declared, never probed: `format` is the top's (the domain XML's
   * `<driver type>`), each lower layer's is what its overlay records as backing format
   * (or, failing that, `declaredFormats[depth]` from the XML's `<backingStore>`). Each
   * layer is read on its own with `-f`, since `--backing-chain` would let qemu probe a
   * layer whose overlay does not record a format.
   */
  async backingChain(
    path: string,
    format: string,
    declaredFormats: readonly (string | undefined)[] = [],
  ): Promise<BackingChainEntry[]> {
    const chain: BackingChainEntry[] = [];
    let layer: { path: string; format: string } | undefined = {
      path,
      format: requireCopyableFormat(path, format, 'the domain XML'),
    };
    while (layer) {
      if (chain.length >= 64 || chain.some((entry) => entry.path === layer!.path)) {
        throw new KvmCloneError(
          ErrorCode.TRANSFER_ERROR,
          `the backing chain of ${path} loops or is deeper than 64 images`,
          { path },
        );
      }
      const output = await this.session.run(sh`qemu-img info -U -f ${layer.format} --output=json -- ${layer.path}`, {
        what: `reading the backing chain of ${path}`,
        failureCode: ErrorCode.TRANSFER_ERROR,
      });
      const image = parseImageInfo(output, layer.path, layer.format);
      chain.push(image);
      layer =
        image.backingFile === undefined
          ? undefined
          : {
              path: image.backingFile,
              format: requireCopyableFormat(
                image.backingFile,
                image.backingFormat ?? declaredFormats[chain.length],
                `its overlay ${image.path}`,
              ),
            };
    }
    return chain;
  }

  /** One image as `qemu-img info -f` describes it, its backing file named but not opened. */
  async imageInfo(path: string, format: string): Promise<BackingChainEntry> {
    const output = await this.session.run(sh`qemu-img info -U -f ${format} --output=json -- ${path}`, {
      what: `reading ${path}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
    return parseImageInfo(output, path, format);
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
   * `sourceFormat` is required: probing the format is what a raw guest disk could fool.
   */
  async flattenInto(topPath: string, outputPath: string, format: string, sourceFormat: string): Promise<void> {
    await this.session.run(
      sh`mkdir -p -- ${posix.dirname(outputPath)} && qemu-img convert -f ${sourceFormat} -O ${format} -- ${topPath} ${outputPath}`,
      {
        what: `flattening ${topPath} into ${outputPath}`,
        failureCode: ErrorCode.TRANSFER_ERROR,
        // As long as the chain is big; the activity heartbeats meanwhile.
        timeoutMs: Infinity,
      },
    );
  }

  /** Copies a small file within the host, such as a VM's NVRAM, keeping its holes. */
  async copyFileLocal(from: string, to: string): Promise<void> {
    await this.session.run(sh`mkdir -p -- ${posix.dirname(to)} && cp --sparse=always -- ${from} ${to}`, {
      what: `copying ${from} to ${to}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
  }

  /**
   * The file's apparent size in bytes, or undefined when it does not exist. A block
   * device's is the device's size (stat says 0): `blockdev` opens it, so an unreadable
   * device fails here, naming it, rather than later as a short copy.
   */
  async fileSize(path: string): Promise<number | undefined> {
    const result = await this.session.exec(
      // blockdev lives in /usr/sbin, which a non-root user's PATH may lack.
      sh`if [ -b ${path} ]; then PATH="$PATH:/usr/sbin:/sbin" blockdev --getsize64 ${path} || exit 4; else stat -L -c %s -- ${path}; fi`,
    );
    if (result.exitCode === 4) {
      throw new KvmCloneError(
        ErrorCode.TRANSFER_ERROR,
        `reading the size of block device ${path} failed: ${result.stderr.trim() || 'blockdev failed'}`,
        { path },
      );
    }
    if (result.exitCode !== 0) return undefined;
    const size = Number(result.stdout.toString('utf8').trim());
    if (!Number.isSafeInteger(size) || size < 0)
      throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `the size of ${path} is not a byte count`, { path });
    return size;
  }

  /** True when `path` is (or links to) a block device. */
  async isBlockDevice(path: string): Promise<boolean> {
    const result = await this.session.exec(sh`test -b ${path}`);
    return result.exitCode === 0;
  }

  /**
   * The byte ranges of a file that hold data, from `qemu-img map -f raw` (4 KiB
   * granularity; for a qcow2 file too, since the file itself is what gets copied). A
   * block device has no holes to ask for, so it is read and its zero regions left out.
   */
  async dataExtents(path: string, range: { start: number; length: number }): Promise<Extent[]> {
    if (range.length === 0) return [];
    if (await this.isBlockDevice(path)) return scanBlockDevice(this.session, path, range);
    const output = await this.session.run(
      sh`qemu-img map -U --output=json -f raw --start-offset=${range.start} --max-length=${range.length} -- ${path}`,
      {
        what: 'qemu-img map',
        failureCode: ErrorCode.TRANSFER_ERROR,
      },
    );
    return (JSON.parse(output) as QemuImgMapEntry[])
      .filter((entry) => entry.data)
      .map((entry) => ({ start: entry.start, length: entry.length }));
  }

  /**
   * Where a qcow2 image keeps each guest range, from `qemu-img map` of the image itself.
   * `-U` because the image may be a running domain's base, held read-only under an overlay.
   */
  async imageMap(path: string): Promise<ImageMapEntry[]> {
    const output = await this.session.run(sh`qemu-img map -U --output=json -f qcow2 -- ${path}`, {
      what: `mapping ${path}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
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
    const output = await this.session.run(sh`stat -L -c '%s %.9Y %.9Z' -- ${[...paths]}`, {
      what: 'reading file times',
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
    const lines = output.split('\n').filter((line) => line.length > 0);
    return Object.fromEntries(paths.map((path, index) => [path, lines[index] ?? '']));
  }

  /**
   * Creates an empty sparse file of `size` bytes, exclusively: anything already at `path`
   * (a file, a symlink, even a dangling one) is left alone and the call fails with 1004.
   */
  async createSparseFile(path: string, size: number): Promise<void> {
    const result = await this.session.exec(
      sh`mkdir -p -- ${posix.dirname(path)} || exit 1; (set -C && : > ${path}) 2>/dev/null || exit 17; truncate -s ${size} -- ${path}`,
    );
    if (result.exitCode === 17) {
      throw new KvmCloneError(
        ErrorCode.VM_EXISTS_ERROR,
        `${path} already exists on the destination; it is left as it is`,
        { path },
        { retryable: false },
      );
    }
    if (result.exitCode !== 0) {
      throw new KvmCloneError(
        ErrorCode.TRANSFER_ERROR,
        `creating ${path} failed: ${result.stderr.trim() || `exit status ${result.exitCode ?? result.signal}`}`,
        { path },
      );
    }
  }

  /**
   * An empty image of `format` and `virtualSize`, created exclusively: the file is made
   * first (as createSparseFile does), so qemu-img only ever fills a file this call created.
   */
  async createImage(path: string, format: string, virtualSize: number): Promise<void> {
    if (!/^[a-z0-9]{1,16}$/.test(format))
      throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, `'${format}' is not a disk format`, { format });
    await this.createSparseFile(path, 0);
    await this.session.run(sh`qemu-img create -q -f ${format} ${path} ${virtualSize}`, {
      what: `qemu-img create of ${path}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
  }

  /** Deallocates byte ranges of a file, which then read as zeros: a sync's way to write zeros. */
  async punchHoles(path: string, extents: readonly Extent[]): Promise<void> {
    if (extents.length === 0) return;
    const commands = extents.map(
      (extent) => sh`fallocate --punch-hole --offset ${extent.start} --length ${extent.length} -- ${path}`,
    );
    await this.session.run(joinShell(commands, ' && '), {
      what: `punching holes in ${path}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
  }

  /** Grows or shrinks a file to `size` bytes; growth is a hole. */
  async resize(path: string, size: number): Promise<void> {
    await this.session.run(sh`truncate -s ${size} -- ${path}`, {
      what: `resizing ${path}`,
      failureCode: ErrorCode.TRANSFER_ERROR,
    });
  }

  async exists(path: string): Promise<boolean> {
    const result = await this.session.exec(sh`test -e ${path}`);
    return result.exitCode === 0;
  }

  async isDirectory(path: string): Promise<boolean> {
    const result = await this.session.exec(sh`test -d ${path}`);
    return result.exitCode === 0;
  }

  /**
   * Removes regular files; a missing one is fine. A symlink or anything else that is not a
   * regular file is not removed (nothing is removed through a link) and comes back in `kept`.
   */
  async removeFiles(paths: readonly string[]): Promise<{ kept: string[] }> {
    if (paths.length === 0) return { kept: [] };
    const output = await this.session.run(
      sh`for p in ${[...paths]}; do if [ -L "$p" ] || { [ -e "$p" ] && [ ! -f "$p" ]; }; then printf '%s\\0' "$p"; else rm -f -- "$p" || exit 1; fi; done`,
      {
        what: 'removing files',
      },
    );
    return { kept: output.split('\0').filter((path) => path.length > 0) };
  }

  /** Bytes available to unprivileged writers in the filesystem holding `dir`. */
  async freeSpace(dir: string): Promise<number> {
    const output = await this.session.run(sh`df -P -B1 -- ${dir} | tail -n 1`, {
      what: 'df',
      failureCode: ErrorCode.GENERAL_ERROR,
    });
    const available = Number(output.trim().split(/\s+/)[3]);
    if (!Number.isFinite(available)) {
      throw new KvmCloneError(ErrorCode.GENERAL_ERROR, `cannot read the free space of ${dir}: ${output.trim()}`);
    }
    return available;
  }
}
