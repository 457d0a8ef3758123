import { chooseBlockHashTool, type BlockHashTool } from './block-delta';
import type { ChangeTracking, TrackedFileChanges } from './change-tracking';
import { destinationFileName } from './clone-rewrite';
import { partialPathFor, type SourceFile } from './copied-file';
import { directoryOf, joinPath } from './paths';
import type { FileSyncResult, SyncResult } from './sync-result';
import { ErrorCode, KvmCloneError } from '../errors';

/** What a sync measured in one file, added up over its tiles. */
export interface SyncCounts {
  bytesCompared: number;
  bytesTransferred: number;
  blocksSynchronized: number;
  bytesUnchanged: number;
}

/** A source file, the target's file it updates, and all the sync learns about it on the way. */
export interface SyncedFile extends SourceFile {
  destinationPath: string;
  /** Where the sync writes the file: its destination path, or for an added disk a partial path renamed at the end. */
  writePath: string;
  action: FileSyncResult['action'];
  /** The destination file's size: the target's own, or what an added disk's file is created with. */
  destinationSize: number;
  counts: SyncCounts;
  changeTracking: ChangeTracking;
  verification: FileSyncResult['verification'];
  /** What the previous checkpoint's bitmap says changed (a tracked disk's top image only). */
  tracked?: TrackedFileChanges;
  digest?: FileSyncResult['digest'];
}

/** What the target has, as inspected on the destination. */
export interface TargetFiles {
  name: string;
  files: readonly SourceFile[];
  /** The target's TPM state directory, where an added TPM file goes. */
  tpmDir?: string;
  /** Free bytes beside the target's disks. */
  freeBytes: number;
}

function fileKey(file: Pick<SourceFile, 'role' | 'target' | 'depth'>): string {
  return `${file.role}:${file.target}:${file.depth}`;
}

/**
 * Pairs each source file with the target's file of the same role, disk target and depth.
 * A file the target lacks is added beside the target's first file (TPM state in its TPM
 * directory), named as a clone would name it; with `partialTag` it is written under a
 * partial name first, so a failed sync never leaves a half-written file under a final name.
 */
export function matchTargetFiles(
  sourceFiles: readonly SourceFile[],
  target: TargetFiles,
  options: { verify: boolean; partialTag?: string },
): SyncedFile[] {
  const targetFiles = new Map(target.files.map((file) => [fileKey(file), file]));
  const homeDir = directoryOf(target.files[0]?.sourcePath ?? '/');
  const fresh = () => ({
    counts: { bytesCompared: 0, bytesTransferred: 0, blocksSynchronized: 0, bytesUnchanged: 0 },
    changeTracking: 'block-hash' as const,
    verification: options.verify ? ('file' as const) : ('none' as const),
  });
  return sourceFiles.map((file) => {
    const existing = targetFiles.get(fileKey(file));
    if (existing) {
      const action = existing.fileSize === file.fileSize ? 'updated' : 'resized';
      const path = existing.sourcePath;
      return {
        ...file,
        destinationPath: path,
        writePath: path,
        action,
        destinationSize: existing.fileSize,
        ...fresh(),
      };
    }
    const destinationPath =
      file.role === 'tpm' && target.tpmDir
        ? joinPath(target.tpmDir, file.target)
        : joinPath(homeDir, destinationFileName(target.name, file));
    const writePath = options.partialTag ? partialPathFor(destinationPath, options.partialTag) : destinationPath;
    return { ...file, destinationPath, writePath, action: 'added', destinationSize: file.fileSize, ...fresh() };
  });
}

/** The target's disks the source no longer has: the sync detaches them and keeps their files. */
export function detachedDisks(sourceFiles: readonly SourceFile[], targetFiles: readonly SourceFile[]): string[] {
  const sourceKeys = new Set(sourceFiles.map(fileKey));
  return targetFiles
    .filter((file) => file.role === 'disk' && !sourceKeys.has(fileKey(file)))
    .map((file) => file.target);
}

/** Fails with 1204 before anything is written when the added disks do not fit beside the target. */
export function assertRoomForAddedDisks(files: readonly SyncedFile[], target: TargetFiles): void {
  const bytesAdded = files.filter((file) => file.action === 'added').reduce((sum, file) => sum + file.allocatedSize, 0);
  if (bytesAdded > target.freeBytes) {
    throw new KvmCloneError(
      ErrorCode.DISK_SPACE_ERROR,
      `the disks added on the source need ${bytesAdded} bytes; ${target.freeBytes} are free beside '${target.name}'`,
    );
  }
}

/**
 * How a file's changes are found and checked. An added file, or hosts without a hash tool,
 * copy it whole; a disk with bitmap changes is tracked by them. With checkpoint tracking, a
 * verified sync checks only the ranges it wrote or compared, unless `fullVerify` asks for
 * the whole file.
 */
export function syncMethod(
  file: Pick<SyncedFile, 'action' | 'tracked'>,
  options: { hashTool: BlockHashTool; verify: boolean; fullVerify: boolean },
): Pick<SyncedFile, 'changeTracking' | 'verification'> {
  const changeTracking: ChangeTracking =
    file.action === 'added' || options.hashTool === 'none' ? 'full-copy' : file.tracked ? 'checkpoint' : 'block-hash';
  if (!options.verify) return { changeTracking, verification: 'none' };
  return { changeTracking, verification: file.tracked && !options.fullVerify ? 'synced-ranges' : 'file' };
}

/**
 * The hash tool both hosts have for a delta sync ('none' copies every disk whole, as a sync
 * without `deltaOnly` does), and what a missing tool costs, in words.
 */
export function chooseHashing(
  deltaOnly: boolean,
  source: { python3: boolean; perl: boolean },
  destination: { python3: boolean; perl: boolean },
): { hashTool: BlockHashTool; warnings: string[] } {
  if (!deltaOnly) return { hashTool: 'none', warnings: [] };
  const hashTool = chooseBlockHashTool(source, destination);
  if (hashTool === 'none')
    return {
      hashTool,
      warnings: [
        'neither python3 nor perl is on both hosts, so blocks cannot be compared in place; every disk is copied whole',
      ],
    };
  if (hashTool === 'perl')
    return { hashTool, warnings: ['python3 is missing on a host; blocks are hashed with perl, which is slower'] };
  return { hashTool, warnings: [] };
}

/** The partial files of added disks and the names they take once the sync is done. */
export function addedDiskRenames(files: readonly SyncedFile[]): { from: string; to: string }[] {
  return files
    .filter((file) => file.writePath !== file.destinationPath)
    .map((file) => ({ from: file.writePath, to: file.destinationPath }));
}

/** The files the sync created, which join the target's clone record (TPM state is vouched for by its directory). */
export function addedFiles(files: readonly SyncedFile[]): string[] {
  return files.filter((file) => file.action === 'added' && file.role !== 'tpm').map((file) => file.destinationPath);
}

/** A file's line in the sync's result. */
export function fileSyncResult(file: SyncedFile): FileSyncResult {
  return {
    role: file.role,
    target: file.target,
    sourcePath: file.sourcePath,
    destinationPath: file.destinationPath,
    action: file.action,
    ...file.counts,
    changeTracking: file.changeTracking,
    verification: file.verification,
    ...(file.digest ? { digest: file.digest } : {}),
  };
}

/** The sync's totals, and how it found changes overall: by checkpoint when any file was. */
export function syncTotals(
  files: readonly SyncedFile[],
  hashTool: BlockHashTool,
): SyncCounts & Pick<SyncResult, 'changeTracking'> {
  const sum = (pick: (counts: SyncCounts) => number) => files.reduce((total, file) => total + pick(file.counts), 0);
  return {
    bytesTransferred: sum((counts) => counts.bytesTransferred),
    blocksSynchronized: sum((counts) => counts.blocksSynchronized),
    bytesCompared: sum((counts) => counts.bytesCompared),
    bytesUnchanged: sum((counts) => counts.bytesUnchanged),
    changeTracking: files.some((file) => file.changeTracking === 'checkpoint')
      ? 'checkpoint'
      : hashTool === 'none'
        ? 'full-copy'
        : 'block-hash',
  };
}
