import { ErrorCode, KvmCloneError } from '../errors';
import type { DomainDisk } from './domain-model';
import { isSafeFileName } from './paths';
import type { DataWindow } from './transfer-plan';

/** A disk of the source VM that the clone copies, as found on the source host. */
export interface SourceDisk {
  target: string;
  sourcePath: string;
  format: string;
  /** Apparent size of the file: what the copy will measure. */
  fileSize: number;
  virtualSize: number;
  allocatedSize: number;
  /** Where the file holds data, in coarse windows. */
  dataWindows: DataWindow[];
  dataBytes: number;
}

/** A disk in the plan: the source disk and where its copy goes. */
export interface PlannedDisk extends SourceDisk {
  destinationPath: string;
}

function extensionOf(path: string): string {
  const file = path.slice(path.lastIndexOf('/') + 1);
  const dot = file.lastIndexOf('.');
  return dot > 0 ? file.slice(dot).replace(/[^A-Za-z0-9.]/g, '') : '';
}

/**
 * A destination file name built from source data (the new name, a disk target, an
 * extension): it must stay one path component, or the copy would land outside its
 * directory. 1302 names the file otherwise.
 */
function safeFileName(name: string): string {
  if (!isSafeFileName(name)) {
    throw new KvmCloneError(
      ErrorCode.INVALID_PATH,
      `destination file name ${JSON.stringify(name)} is not a single safe path component`,
      { fileName: name },
    );
  }
  return name;
}

/**
 * `<newName>-<target><ext>`: unique per clone and per disk, recognisable by name. A block
 * device's copy is a file named for its format (`web01-vdb.raw`): a device's name says
 * nothing about what it holds.
 */
export function destinationDiskFileName(
  newName: string,
  disk: { target: string; sourcePath: string; blockDevice?: boolean; format?: string },
): string {
  const extension = disk.blockDevice ? formatExtension(disk.format) : extensionOf(disk.sourcePath);
  return safeFileName(`${newName}-${disk.target}${extension}`);
}

/** `.raw`, `.qcow2`: the extension a copy of a block device takes, from the format the XML declares. */
function formatExtension(format: string | undefined): string {
  return format !== undefined && /^[a-z0-9]{1,16}$/.test(format) ? `.${format}` : '';
}

/**
 * `<newName>-<target>-backing<depth><ext>`: depth 1 is the image right under the disk's own, 2 the one under that, …
 */
export function destinationBackingFileName(newName: string, target: string, depth: number, sourcePath: string): string {
  if (!Number.isInteger(depth) || depth < 1) {
    throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, `backing depth must be a whole number from 1, got ${depth}`, {
      target,
      depth,
    });
  }
  return safeFileName(`${newName}-${target}-backing${depth}${extensionOf(sourcePath)}`);
}

/** `<newName>_VARS.fd`: the name libvirt itself gives a domain's UEFI variable store. */
export function destinationNvramFileName(newName: string): string {
  return safeFileName(`${newName}_VARS.fd`);
}

/** Which disks a clone copies, beyond the defaults. */
export interface DiskSelection {
  /** Copy CD-ROM media too; by default the clone references the source's media path. */
  copyCdroms?: boolean;
  /** Targets the clone leaves out altogether (see `CloneRewrite.removeDisks`). */
  excludeDisks?: string[];
}

/**
 * A source the clone can copy as a file. A pool volume counts on its pool and volume
 * names alone: the caller resolves its file with `virsh vol-path` and sets `sourcePath`
 * before planning the copy. A host block device (an LVM volume, a partition, a loop
 * device) is read like a file and lands as one; only a plain disk's, since a CD-ROM
 * drive or a LUN of the host is hardware, not data.
 */
function hasCopyableSource(disk: DomainDisk): boolean {
  if (disk.type === 'file') return disk.sourcePath !== undefined;
  if (disk.type === 'volume') return disk.pool !== undefined && disk.volume !== undefined;
  if (disk.type === 'block') return disk.device === 'disk' && disk.sourcePath?.startsWith('/') === true;
  return false;
}

/**
 * Disks a clone copies: file-backed, block-device and pool-volume disks unless excluded,
 * CD-ROM media only with `copyCdroms`, floppies never.
 */
export function isCopiedDisk(disk: DomainDisk): boolean;
export function isCopiedDisk(disk: DomainDisk, selection?: DiskSelection): boolean;
export function isCopiedDisk(disk: DomainDisk, selection?: DiskSelection): boolean {
  // The one-argument overload keeps `disks.filter(isCopiedDisk)` compiling; filter's index lands here then.
  const { copyCdroms = false, excludeDisks = [] } =
    typeof selection === 'object' && selection !== null ? selection : {};
  if (excludeDisks.includes(disk.target) || !hasCopyableSource(disk)) return false;
  return disk.device === 'disk' || (disk.device === 'cdrom' && copyCdroms);
}

export function copiedDisks(disks: DomainDisk[], selection?: DiskSelection): DomainDisk[] {
  return disks.filter((disk) => isCopiedDisk(disk, selection));
}

/**
 * Disks a clone cannot copy and must refuse rather than silently share. Excluded disks are the caller's choice, not a
 * problem.
 */
export function unsupportedDisks(disks: DomainDisk[], selection?: DiskSelection): DomainDisk[] {
  const excluded = new Set(selection?.excludeDisks ?? []);
  return disks.filter((disk) => disk.device === 'disk' && !excluded.has(disk.target) && !isCopiedDisk(disk, selection));
}

/**
 * A locally administered MAC in QEMU's 52:54:00 range, from a random source. Workflows
 * pass their deterministic Math.random so a replay makes the same addresses.
 */
export function randomMac(random: () => number): string {
  const bytes = [0x52, 0x54, 0x00, ...Array.from({ length: 3 }, () => Math.floor(random() * 256))];
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/**
 * A version 4 UUID from a random source, laid out as RFC 9562 says. Workflows pass their
 * deterministic Math.random so a replay picks the same UUID.
 */
export function uuidFromRandom(random: () => number): string {
  const bytes = Array.from({ length: 16 }, () => Math.min(255, Math.floor(random() * 256)));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}
