import { SYNC_BLOCK_SIZE, syncTileBytes, tileFile, type BlockHashTool } from '../domain/block-delta';
import { clipExtents, mergeExtents } from '../domain/extent-set';
import type { SyncOptions } from '../domain/schemas/sync-input';
import { syncMethod, type SyncedFile } from '../domain/sync-plan';
import type { Extent } from '../domain/transfer-plan';
import { ErrorCode, KvmCloneError } from '../errors';
import { transfers, verification } from './activity-proxies';
import { checkRange, differ, diskProgressOf, rangeDone, showDisks, verifyFiles } from './copy-ranges';
import type { DataPath } from './data-path';
import type { Operation } from './operation';
import type { DiskProgress } from './progress';
import { runLimited } from './run-limited';

/** A file being synced, with its line in the progress query. */
type FileInSync = SyncedFile & { disk: DiskProgress };

/** What one syncRange call reports about a tile. */
interface TileCounts {
  bytesCompared: number;
  bytesSent: number;
  blocksChanged: number;
  bytesUnchanged: number;
}

/**
 * Brings every file up to date, tile by tile, `parallel` tiles at once: each tile sends
 * what differs (what the bitmap saw written, or the blocks whose hashes differ, or all of
 * a new file) and checks what it sent; then each whole file is checked. Runs once the
 * files have their final sizes. Returns how many tiles were sent again after a check.
 */
export async function syncFiles(
  operation: Operation<SyncOptions>,
  files: SyncedFile[],
  dataPath: DataPath,
  hashTool: BlockHashTool,
): Promise<number> {
  const sync = new FileSync(operation, files, dataPath, hashTool);
  await sync.run();
  return sync.rangesRecopied;
}

class FileSync {
  rangesRecopied = 0;
  private readonly files: FileInSync[];
  private readonly tileBytes: number;

  constructor(
    private readonly operation: Operation<SyncOptions>,
    files: SyncedFile[],
    private readonly dataPath: DataPath,
    private readonly hashTool: BlockHashTool,
  ) {
    this.files = files.map((file) => Object.assign(file, { disk: diskProgressOf(file, file.fileSize) }));
    this.tileBytes = syncTileBytes(
      files.reduce((sum, file) => sum + file.fileSize, 0),
      operation.options.parallel,
    );
  }

  async run(): Promise<void> {
    const { options, progress } = this.operation;
    progress.phase = 'copying';
    showDisks(
      progress,
      this.files.map((file) => file.disk),
    );
    const method = { hashTool: this.hashTool, verify: options.verify, fullVerify: options.fullVerify };
    for (const file of this.files) Object.assign(file, syncMethod(file, method));
    const tiles = this.files.flatMap((file) =>
      tileFile(file.fileSize, this.tileBytes).map((range) => () => this.syncTile(file, range)),
    );
    await runLimited(tiles, options.parallel);
    if (options.verify) await verifyFiles(this.operation, this.files, (file) => this.verifyFile(file));
  }

  /** One tile of one file: send what differs, then check what was sent. */
  private async syncTile(file: FileInSync, range: Extent): Promise<void> {
    file.disk.phase = 'copying';
    if (file.tracked) {
      const inTile = {
        changed: clipExtents(file.tracked.changed, range),
        compare: clipExtents(file.tracked.compare, range),
      };
      // Nothing written and nothing to compare: the bitmap vouches for the whole tile.
      if (inTile.changed.length === 0 && inTile.compare.length === 0)
        count(file, { bytesCompared: 0, bytesSent: 0, blocksChanged: 0, bytesUnchanged: range.length });
      else count(file, await transfers.syncRange({ ...this.request(file, range), mode: 'tracked', tracked: inTile }));
      // What was written or compared is checked; the bitmap vouches for the rest of the tile.
      await this.checkTile(file, range, mergeExtents([...inTile.changed, ...inTile.compare]));
    } else {
      // A new disk, or hosts that cannot hash, have nothing to compare against.
      const mode = file.changeTracking === 'full-copy' ? 'full' : 'delta';
      const synced = await transfers.syncRange({ ...this.request(file, range), mode });
      count(file, synced);
      // A delta checks the blocks it wrote (a result without `written`, from an older worker, checks the tile); the whole-file digest covers the blocks whose CRC-32 matched.
      await this.checkTile(file, range, mode === 'delta' ? synced.written : undefined);
    }
    rangeDone(this.operation.progress, file.disk, range.length);
  }

  /**
   * Checks what the sync wrote or compared in a tile (`undefined`: the whole tile); a tile that differs is sent again
   * whole.
   */
  private async checkTile(file: FileInSync, range: Extent, extents: Extent[] | undefined): Promise<void> {
    if (!this.operation.options.verify || extents?.length === 0) return;
    const { source, destination } = this.operation.options;
    const check = (only?: Extent[]) =>
      verification.verifyRange({
        source,
        destination,
        sourcePath: file.sourcePath,
        destinationPath: file.writePath,
        range,
        ...(only ? { extents: only } : {}),
      });
    const recopied = await checkRange(this.operation, {
      range,
      sourcePath: file.sourcePath,
      writtenBy: 'sync',
      check: () => check(extents),
      checkWhole: () => check(),
      writeAgain: async () => {
        const resent = await transfers.syncRange({ ...this.request(file, range), mode: 'full' });
        file.counts.bytesTransferred += resent.bytesSent;
      },
    });
    if (recopied) this.rangesRecopied++;
  }

  /** Compares a whole file on both hosts; one that differs has its differing tiles sent again, then it is 1006. */
  private async verifyFile(file: FileInSync): Promise<void> {
    if (file.verification === 'synced-ranges') return;
    const { source, destination } = this.operation.options;
    const digestsOf = () =>
      verification.verifyFile({ source, destination, sourcePath: file.sourcePath, destinationPath: file.writePath });
    let digests = await digestsOf();
    if (differ(digests)) {
      // Something the delta could not see: a CRC-32 collision, or a write the bitmap missed. The tiles that differ are copied again.
      this.operation.warnings.push(
        `${file.destinationPath} still differed from its source after the sync; the tiles that differ were copied again`,
      );
      for (const range of tileFile(file.fileSize, this.tileBytes)) await this.checkTile(file, range, undefined);
      digests = await digestsOf();
    }
    if (differ(digests))
      throw new KvmCloneError(
        ErrorCode.TRANSFER_ERROR,
        `${file.destinationPath} differs from ${file.sourcePath} after the sync`,
      );
    file.digest = {
      algorithm: digests.source.algorithm,
      source: digests.source.hex,
      destination: digests.destination.hex,
    };
  }

  /** The syncRange request for a tile, but its mode. */
  private request(file: FileInSync, range: Extent) {
    const { source, destination } = this.operation.options;
    return {
      source,
      destination,
      sourcePath: file.sourcePath,
      destinationPath: file.writePath,
      range,
      hashTool: this.hashTool,
      blockSize: SYNC_BLOCK_SIZE,
      compression: this.dataPath.compression,
      label: file.disk.target,
      ...this.dataPath.route,
    };
  }
}

function count(file: SyncedFile, tile: TileCounts): void {
  file.counts.bytesCompared += tile.bytesCompared;
  file.counts.bytesTransferred += tile.bytesSent;
  file.counts.blocksSynchronized += tile.blocksChanged;
  file.counts.bytesUnchanged += tile.bytesUnchanged;
}
