import { posix } from 'node:path';
import { ErrorCode, KvmCloneError } from '../errors';

/** One image of a backing chain, as `qemu-img info -f <format>` describes it. */
export interface BackingChainEntry {
  /** Absolute path of the image file. */
  path: string;
  format: string;
  virtualSize: number;
  /** Bytes the file occupies on disk. */
  allocatedSize: number;
  /** Absolute path of the image this one is an overlay on. */
  backingFile?: string;
  backingFormat?: string;
}

interface QemuImgChainEntry {
  filename?: string;
  format?: string;
  'virtual-size'?: number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  'format-specific'?: { type?: string; data?: { 'data-file'?: string } };
}

/**
 * A backing reference as an absolute path. qemu-img stores relative references relative
 * to the overlay's directory and reports the joined path as `full-backing-filename`.
 * '..' segments are kept, not collapsed: through a symlinked directory, collapsing them
 * lexically would name a different file than the one qemu opens.
 */
function absoluteBacking(entry: QemuImgChainEntry, imagePath: string): string | undefined {
  if (entry['full-backing-filename']) return entry['full-backing-filename'];
  const reference = entry['backing-filename'];
  if (!reference) return undefined;
  if (posix.isAbsolute(reference)) return reference;
  return `${posix.dirname(imagePath)}/${reference}`;
}

/**
 * Image formats a clone copies. Both are read with their format named (never probed); others
 * (vmdk extents, qed, ...) can name further host files in ways this check does not follow.
 */
export const COPYABLE_IMAGE_FORMATS = ['raw', 'qcow2'] as const;

function refuseFormat(path: string, message: string, details: Record<string, unknown>): never {
  throw new KvmCloneError(ErrorCode.CLONE_ERROR, `${path}: ${message}`, { path, ...details }, { retryable: false });
}

/**
 * One image, from `qemu-img info -f <format> --output=json` (without `--backing-chain`, so
 * qemu opened no file below it). `format` is what the caller declared: the domain XML's
 * `<driver type>` for a disk's top, the overlay's recorded backing format below it. qemu
 * was told the format, so a raw disk whose guest wrote a qcow2 header stays raw.
 */
export function parseImageInfo(json: string, path: string, format: string): BackingChainEntry {
  let entry: QemuImgChainEntry;
  try {
    entry = JSON.parse(json) as QemuImgChainEntry;
  } catch (error) {
    throw new KvmCloneError(
      ErrorCode.TRANSFER_ERROR,
      `qemu-img info of ${path} did not print JSON: ${(error as Error).message}`,
      { path },
    );
  }
  if (typeof entry !== 'object' || entry === null || typeof entry['virtual-size'] !== 'number') {
    throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `qemu-img info of ${path} lacks a size`, { path });
  }
  if (entry.format !== format)
    refuseFormat(path, `qemu-img read it as ${String(entry.format)}, not the declared ${format}`, { format });
  if (entry['format-specific']?.data?.['data-file'] !== undefined) {
    refuseFormat(
      path,
      `the image keeps its data in an external file (${entry['format-specific'].data['data-file']}), which kvm-clone does not copy`,
      { format },
    );
  }
  const image: BackingChainEntry = {
    path,
    format,
    virtualSize: entry['virtual-size'],
    allocatedSize: entry['actual-size'] ?? 0,
  };
  const backingFile = absoluteBacking(entry, path);
  if (backingFile !== undefined) {
    image.backingFile = backingFile;
    if (entry['backing-filename-format']) image.backingFormat = entry['backing-filename-format'];
  }
  return image;
}

/** A format the clone reads, or 1200 naming the image: anything else could name host files the check cannot see. */
export function requireCopyableFormat(path: string, format: string | undefined, whose: string): string {
  if (format === undefined) {
    refuseFormat(
      path,
      `${whose} does not declare the format of this image, and kvm-clone never probes a format (a guest could forge the header); set backing_fmt with qemu-img rebase -u -F`,
      {},
    );
  }
  if (!(COPYABLE_IMAGE_FORMATS as readonly string[]).includes(format)) {
    refuseFormat(path, `format ${format} is not one kvm-clone copies (${COPYABLE_IMAGE_FORMATS.join(', ')})`, {
      format,
    });
  }
  return format;
}
