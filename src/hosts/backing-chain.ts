import { posix } from 'node:path';
import { ErrorCode, KvmCloneError } from '../errors';

/** One image of a backing chain, as `qemu-img info --backing-chain` describes it. */
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
 * Parses `qemu-img info --backing-chain --output=json` for the image at `topPath`: the
 * chain top first, each entry followed by the image it is an overlay on.
 */
export function parseBackingChain(json: string, topPath: string): BackingChainEntry[] {
  let entries: QemuImgChainEntry[];
  try {
    const parsed: unknown = JSON.parse(json);
    // A single image without --backing-chain is one object; tolerate it.
    entries = (Array.isArray(parsed) ? parsed : [parsed]) as QemuImgChainEntry[];
  } catch (error) {
    throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `qemu-img info of ${topPath} did not print JSON: ${(error as Error).message}`, { path: topPath });
  }
  const chain: BackingChainEntry[] = [];
  let expectedPath = topPath;
  for (const entry of entries) {
    if (typeof entry.format !== 'string' || typeof entry['virtual-size'] !== 'number') {
      throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `qemu-img info of ${topPath} lacks a format or size for ${entry.filename ?? expectedPath}`, { path: topPath });
    }
    // The top is named as the caller named it; below it, as the overlay above refers to it.
    const image: BackingChainEntry = { path: expectedPath, format: entry.format, virtualSize: entry['virtual-size'], allocatedSize: entry['actual-size'] ?? 0 };
    const backingFile = absoluteBacking(entry, expectedPath);
    if (backingFile !== undefined) {
      image.backingFile = backingFile;
      if (entry['backing-filename-format']) image.backingFormat = entry['backing-filename-format'];
      expectedPath = backingFile;
    }
    chain.push(image);
  }
  const last = chain.at(-1);
  if (last?.backingFile !== undefined) {
    throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `qemu-img info stopped at ${last.path}, whose backing file ${last.backingFile} it did not describe`, {
      path: topPath,
    });
  }
  return chain;
}
