import type { SourceFile } from '../domain/copied-file';
import type { Extent } from '../domain/transfer-plan';
import { ErrorCode, KvmCloneError } from '../errors';
import type { Operation, OperationOptions } from './operation';
import type { DiskProgress, OperationProgress } from './progress';
import { runLimited } from './run-limited';

/** SHA-256 of the same bytes, taken on each host. */
export interface Digests {
  source: { hex: string };
  destination: { hex: string };
}

export function differ(digests: Digests): boolean {
  return digests.source.hex !== digests.destination.hex;
}

/** A file's line in the progress query: a disk by its target, another file as `target:role` and its depth. */
export function diskProgressOf(file: SourceFile, bytesTotal: number): DiskProgress {
  return {
    target: file.role === 'disk' ? file.target : `${file.target}:${file.role}${file.depth || ''}`,
    bytesTotal,
    bytesDone: 0,
    phase: 'pending',
  };
}

/** Shows these disks in the progress query, with their bytes as the operation's total. */
export function showDisks(progress: OperationProgress, disks: DiskProgress[]): void {
  progress.disks = disks;
  progress.bytesTotal = disks.reduce((sum, disk) => sum + disk.bytesTotal, 0);
}

/** Counts a finished range's bytes as done, for its disk and for the operation. */
export function rangeDone(progress: OperationProgress, disk: DiskProgress, bytes: number): void {
  disk.bytesDone += bytes;
  progress.bytesDone += bytes;
}

/** A range just written, how to check it, and how to write it again. */
export interface WrittenRange {
  range: Extent;
  sourcePath: string;
  /** What wrote it, as the warning names it. */
  writtenBy: 'copy' | 'sync';
  /** Digests of what was written. */
  check: () => Promise<Digests>;
  /** Digests of the whole range, after it was written again. */
  checkWhole: () => Promise<Digests>;
  writeAgain: () => Promise<void>;
}

/**
 * Checks a range just written with SHA-256 on both hosts. A range that differs is written
 * again whole, once, with a warning; one that still differs fails the operation with 1006.
 * Returns whether the range was written again.
 */
export async function checkRange(operation: Operation<OperationOptions>, written: WrittenRange): Promise<boolean> {
  if (!differ(await written.check())) return false;
  const where = `range ${written.range.start}+${written.range.length} of ${written.sourcePath}`;
  operation.warnings.push(`${where} differed after the ${written.writtenBy} and was copied again`);
  await written.writeAgain();
  const digests = await written.checkWhole();
  if (differ(digests)) {
    throw new KvmCloneError(
      ErrorCode.TRANSFER_ERROR,
      `${where} still differs after copying it again: sha256 ${digests.source.hex} on the source, ${digests.destination.hex} on the destination`,
    );
  }
  return true;
}

/**
 * Verifies whole files, `parallel` at once, each disk's progress saying so: the last check
 * of a copy, after every range was checked on its own.
 */
export async function verifyFiles<F extends { disk: DiskProgress }>(
  operation: Operation<OperationOptions>,
  files: readonly F[],
  verify: (file: F) => Promise<void>,
): Promise<void> {
  operation.progress.phase = 'verifying';
  await runLimited(
    files.map((file) => async () => {
      file.disk.phase = 'verifying';
      await verify(file);
      file.disk.phase = 'done';
    }),
    operation.options.parallel,
  );
}
