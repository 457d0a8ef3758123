import { targetRangeBytes, type Extent } from './transfer-plan';

/** What computes block hashes on both hosts; both must use the same one. */
export type BlockHashTool = 'python3' | 'perl' | 'none';

/**
 * The block size sync compares at: qcow2's default cluster size, so one guest write
 * rarely dirties two blocks, and a 100 GiB disk is 1.6 M hashes (~15 MB) per host.
 */
export const SYNC_BLOCK_SIZE = 64 * 1024;

/** The hash tool both hosts have: python3 first (fastest), then perl; none means a full copy. */
export function chooseBlockHashTool(
  source: { python3: boolean; perl: boolean },
  destination: { python3: boolean; perl: boolean },
): BlockHashTool {
  if (source.python3 && destination.python3) return 'python3';
  if (source.perl && destination.perl) return 'perl';
  return 'none';
}

export interface BlockDelta {
  /** Source data to send, adjacent blocks merged. */
  copy: Extent[];
  /** Blocks that are zero on the source but not on the destination: punched, not sent. */
  punch: Extent[];
  blocksChanged: number;
  bytesUnchanged: number;
}

function append(extents: Extent[], start: number, length: number): void {
  const last = extents[extents.length - 1];
  if (last && last.start + last.length === start) last.length += length;
  else extents.push({ start, length });
}

/**
 * Compares the block hashes of extents on both hosts, in the order `remoteBlockHashes`
 * gives them: each extent starts a new block. `0` marks a zero block, so zeros on the
 * source become holes punched on the destination instead of bytes sent.
 */
export function blockDelta(
  sourceHashes: readonly string[],
  destinationHashes: readonly string[],
  extents: readonly Extent[],
  blockSize: number,
): BlockDelta {
  const delta: BlockDelta = { copy: [], punch: [], blocksChanged: 0, bytesUnchanged: 0 };
  const blocks = extents.reduce((sum, extent) => sum + Math.ceil(extent.length / blockSize), 0);
  if (sourceHashes.length !== blocks || destinationHashes.length !== blocks) {
    throw new Error(
      `expected ${blocks} block hashes per host, got ${sourceHashes.length} and ${destinationHashes.length}`,
    );
  }
  let index = 0;
  for (const extent of extents) {
    for (let start = extent.start; start < extent.start + extent.length; start += blockSize, index++) {
      const length = Math.min(blockSize, extent.start + extent.length - start);
      if (sourceHashes[index] === destinationHashes[index]) {
        delta.bytesUnchanged += length;
        continue;
      }
      delta.blocksChanged++;
      append(sourceHashes[index] === '0' ? delta.punch : delta.copy, start, length);
    }
  }
  return delta;
}

/** Contiguous tiles covering a whole file, for work that must look at every byte, holes too. */
export function tileFile(fileSize: number, tileBytes: number): Extent[] {
  const tiles: Extent[] = [];
  for (let start = 0; start < fileSize; start += tileBytes)
    tiles.push({ start, length: Math.min(tileBytes, fileSize - start) });
  return tiles;
}

/**
 * Tile size for a sync: a clone's range size rounded up to whole blocks, so every tile,
 * and so every block, starts on a block boundary. Otherwise one guest write straddles two
 * blocks of a misaligned tile and is sent twice over.
 */
export function syncTileBytes(totalBytes: number, parallel: number): number {
  return Math.ceil(targetRangeBytes(totalBytes, parallel) / SYNC_BLOCK_SIZE) * SYNC_BLOCK_SIZE;
}
