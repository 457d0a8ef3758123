import type { DomainDisk } from './domain-xml';
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

/** `<newName>-<target><ext>`: unique per clone and per disk, recognisable by name. */
export function destinationDiskFileName(newName: string, disk: { target: string; sourcePath: string }): string {
  return `${newName}-${disk.target}${extensionOf(disk.sourcePath)}`;
}

export function joinPath(dir: string, fileName: string): string {
  return `${dir.replace(/\/+$/, '')}/${fileName}`;
}

/** Disks a clone copies: file-backed disks; CD-ROMs and floppies stay references. */
export function isCopiedDisk(disk: DomainDisk): boolean {
  return disk.device === 'disk' && disk.type === 'file' && disk.sourcePath !== undefined;
}

/** Disks a clone cannot copy yet and must refuse rather than silently share. */
export function unsupportedDisks(disks: DomainDisk[]): DomainDisk[] {
  return disks.filter((disk) => disk.device === 'disk' && !isCopiedDisk(disk));
}

/**
 * A locally administered MAC in QEMU's 52:54:00 range, from a random source. Workflows
 * pass their deterministic Math.random so a replay makes the same addresses.
 */
export function randomMac(random: () => number): string {
  const bytes = [0x52, 0x54, 0x00, ...Array.from({ length: 3 }, () => Math.floor(random() * 256))];
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}
