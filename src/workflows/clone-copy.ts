import type { FileCopyResult } from '../domain/clone-result';
import type { FileDataMap, PlannedFile } from '../domain/copied-file';
import type { CloneOptions } from '../domain/schemas/clone-input';
import { planTransferRanges, targetRangeBytes, type TransferRange } from '../domain/transfer-plan';
import { ErrorCode, KvmCloneError } from '../errors';
import { transfers, verification } from './activity-proxies';
import { checkRange, differ, diskProgressOf, rangeDone, showDisks, verifyFiles } from './copy-ranges';
import type { DataPath } from './data-path';
import type { Operation } from './operation';
import type { DiskProgress } from './progress';
import { runLimited } from './run-limited';

/** A planned file as its copy goes: where its data is, its progress, and what crossed the wire. */
export interface CopiedFile extends PlannedFile {
  dataMap: FileDataMap;
  disk: DiskProgress;
  bytesSent: number;
  digest?: FileCopyResult['digest'];
}

/** What the copy did, for the clone's result. */
export interface CloneCopy {
  files: FileCopyResult[];
  bytesResumed: number;
  rangesRecopied: number;
}

/**
 * Copies the source's files into their partial copies on the destination: their data
 * ranges only (holes stay holes), `parallel` at once, each range checked as soon as it is
 * copied, and then each whole file.
 */
export async function copyFiles(
  operation: Operation<CloneOptions>,
  planned: PlannedFile[],
  dataPath: DataPath,
): Promise<CloneCopy> {
  operation.progress.phase = 'copying';
  // Under the long, heartbeating policy: mapping a block device reads all of it.
  const maps = await verification.mapFiles({ source: operation.options.source, files: planned });
  const files = planned.map((file, index) => {
    const dataMap = maps[index]!;
    return { ...file, dataMap, disk: diskProgressOf(file, dataMap.dataBytes), bytesSent: 0 };
  });
  const copy = new FileCopy(operation, files, dataPath);
  await copy.run();
  return { files: files.map(copyResult), bytesResumed: copy.bytesResumed, rangesRecopied: copy.rangesRecopied };
}

class FileCopy {
  bytesResumed = 0;
  rangesRecopied = 0;

  constructor(
    private readonly operation: Operation<CloneOptions>,
    private readonly files: CopiedFile[],
    private readonly dataPath: DataPath,
  ) {}

  async run(): Promise<void> {
    const { options, progress } = this.operation;
    showDisks(
      progress,
      this.files.map((file) => file.disk),
    );
    const rangeBytes = targetRangeBytes(progress.bytesTotal, options.parallel);
    const ranges = this.files.flatMap((file) =>
      planTransferRanges(file.dataMap.dataWindows, file.fileSize, rangeBytes).map((range) => async () => {
        file.disk.phase = 'copying';
        await this.copyRange(file, range);
      }),
    );
    await runLimited(ranges, options.parallel);
    if (options.verify) await verifyFiles(this.operation, this.files, (file) => this.verifyCopy(file));
  }

  /** Copies one range, then checks it (and copies it again once if it differs). */
  private async copyRange(file: CopiedFile, range: TransferRange): Promise<void> {
    const { source, destination, verify } = this.operation.options;
    const copied = await this.transfer(file, range);
    file.bytesSent += copied.bytesSent;
    this.bytesResumed += copied.bytesResumed;
    if (verify) {
      const check = () =>
        verification.verifyRange({
          source,
          destination,
          sourcePath: file.sourcePath,
          destinationPath: file.partialPath,
          range,
        });
      const writeAgain = async () => {
        file.bytesSent += (await this.transfer(file, range)).bytesSent;
      };
      const written = { range, sourcePath: file.sourcePath, writtenBy: 'copy' as const };
      if (await checkRange(this.operation, { ...written, check, checkWhole: check, writeAgain })) this.rangesRecopied++;
    }
    rangeDone(this.operation.progress, file.disk, copied.dataBytes);
  }

  private transfer(file: CopiedFile, range: TransferRange) {
    const { source, destination } = this.operation.options;
    return transfers.transferRange({
      source,
      destination,
      sourcePath: file.sourcePath,
      destinationPath: file.partialPath,
      range,
      compression: this.dataPath.compression,
      label: file.disk.target,
      ...this.dataPath.route,
    });
  }

  /** Compares a whole partial copy with its source: 1006 when they differ. */
  private async verifyCopy(file: CopiedFile): Promise<void> {
    const { source, destination } = this.operation.options;
    const digests = await verification.verifyFile({
      source,
      destination,
      sourcePath: file.sourcePath,
      destinationPath: file.partialPath,
    });
    if (differ(digests)) {
      throw new KvmCloneError(
        ErrorCode.TRANSFER_ERROR,
        `copy of ${file.sourcePath} differs from its source: sha256 ${digests.source.hex} on the source, ${digests.destination.hex} on the destination`,
      );
    }
    file.digest = {
      algorithm: digests.source.algorithm,
      source: digests.source.hex,
      destination: digests.destination.hex,
      tools: [digests.source.tool, digests.destination.tool],
    };
  }
}

function copyResult(file: CopiedFile): FileCopyResult {
  return {
    role: file.role,
    target: file.target,
    sourcePath: file.sourcePath,
    destinationPath: file.destinationPath,
    format: file.format,
    fileSize: file.fileSize,
    bytesTransferred: file.bytesSent,
    bytesSkippedAsHoles: file.fileSize - file.dataMap.dataBytes,
    ...(file.digest ? { digest: file.digest } : {}),
  };
}
