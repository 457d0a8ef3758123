import { ErrorCode, KvmCloneError } from '../errors';
import { isSafeFileName, joinPath } from './paths';
import { shortHash } from './short-hash';
import type { DataWindow } from './transfer-plan';

/**
 * What a file is to the domain: a disk's top image, a lower layer of its backing chain,
 * a CD-ROM image, the UEFI variable store, or a file of the emulated TPM's state.
 */
export type FileRole = 'disk' | 'backing' | 'cdrom' | 'nvram' | 'tpm';

/** A file on the source host that the clone copies. */
export interface SourceFile {
  role: FileRole;
  /**
   * The disk target (`vda`) the file belongs to; `nvram` for the variable store; for TPM state, its path inside the
   * state directory.
   */
  target: string;
  /** 0 for a disk's top image, 1.. for its backing layers, top to bottom. */
  depth: number;
  sourcePath: string;
  format: string;
  /** Apparent size of the file: what the copy will measure. */
  fileSize: number;
  virtualSize: number;
  /** Bytes the file occupies on disk. */
  allocatedSize: number;
  /** Format of the layer below, for a file with a backing file. */
  backingFormat?: string;
  /**
   * The disk is a block device of the source host (`<disk type='block'>`: an LVM volume, a
   * partition, a loop device). It is read like a file and its copy is a regular file.
   */
  blockDevice?: boolean;
  /**
   * For a block device: the source host directory where a live snapshot's overlay goes,
   * since the device's own directory (`/dev/...`) is no place for files.
   */
  overlayDir?: string;
}

/** A source file and where its copy goes. */
export interface PlannedFile extends SourceFile {
  destinationPath: string;
  /** Where the copy is written until it is verified; renamed to `destinationPath` after. */
  partialPath: string;
}

/** Where a file holds data, in coarse windows, as mapped just before the copy. */
export interface FileDataMap {
  dataWindows: DataWindow[];
  dataBytes: number;
}

/** Files copied while the guest keeps writing: the writable top images of disks. */
export function isLiveDisk(file: SourceFile): boolean {
  return file.role === 'disk';
}

/**
 * A partial copy's name beside its final one. The operation's tag keeps two attempts
 * apart, and the suffix says what the file is to anyone who finds it after a crash.
 */
export function partialPathFor(destinationPath: string, operationTag: string): string {
  return `${destinationPath}.kvm-clone-${operationTag}.part`;
}

/** The overlay a live snapshot puts beside a disk's base image while it is copied. */
export function overlayPathFor(basePath: string, operationTag: string): string {
  return `${basePath}.kvm-clone-${operationTag}.overlay`;
}

/**
 * Where a live snapshot puts a disk's overlay: beside a file, in `overlayDir` for a block
 * device (named by the disk target, which is a checked device name, and the operation).
 */
export function liveOverlayPath(
  file: Pick<SourceFile, 'sourcePath' | 'target' | 'overlayDir'>,
  operationTag: string,
): string {
  if (file.overlayDir === undefined) return overlayPathFor(file.sourcePath, operationTag);
  const name = `block-${file.target}.kvm-clone-${operationTag}.overlay`;
  if (file.target.includes('/') || !isSafeFileName(name))
    throw new KvmCloneError(ErrorCode.INVALID_PATH, `overlay name ${JSON.stringify(name)} is not one safe file name`, {
      target: file.target,
    });
  return joinPath(file.overlayDir, name);
}

/** A short tag from a workflow ID, for file names: stable across retries and replays. */
export function operationTag(workflowId: string, runId: string): string {
  return shortHash(`${workflowId}/${runId}`);
}

/**
 * Each disk's copied layers, top first, for the disks that have a backing chain: they are re-linked to each other on
 * the destination.
 */
export function backingChains(
  files: readonly (SourceFile & { destinationPath: string })[],
): { layers: { path: string; format: string }[] }[] {
  const byTarget = new Map<string, (SourceFile & { destinationPath: string })[]>();
  for (const file of files) {
    if (file.role !== 'disk' && file.role !== 'backing') continue;
    byTarget.set(file.target, [...(byTarget.get(file.target) ?? []), file]);
  }
  return [...byTarget.values()]
    .filter((layers) => layers.length > 1)
    .map((layers) => ({
      layers: [...layers]
        .sort((a, b) => a.depth - b.depth)
        .map((layer) => ({ path: layer.destinationPath, format: layer.format })),
    }));
}
