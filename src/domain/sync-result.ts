import type { Consistency, FileDigest } from './clone-result';
import type { BlockHashTool } from './block-delta';
import type { ChangeTracking } from './change-tracking';
import type { FileRole } from './copied-file';

export interface FileSyncResult {
  role: FileRole;
  target: string;
  sourcePath: string;
  destinationPath: string;
  /** What happened to the file: compared and updated, copied whole (new), or resized then updated. */
  action: 'updated' | 'added' | 'resized';
  bytesCompared: number;
  bytesTransferred: number;
  blocksSynchronized: number;
  bytesUnchanged: number;
  /** How this file's changed blocks were found. */
  changeTracking: ChangeTracking;
  /**
   * What SHA-256 checked on both hosts: the whole file, or (checkpoint tracking without
   * fullVerify) only the ranges the sync wrote or compared; the rest the bitmap vouches for.
   */
  verification: 'file' | 'synced-ranges' | 'none';
  digest?: { algorithm: FileDigest['algorithm']; source: string; destination: string };
}

/** The original tool's SyncResult, plus what was compared and how changes were found. */
export interface SyncResult {
  operationId: string;
  success: boolean;
  vmName: string;
  targetName: string;
  sourceHost: string;
  destinationHost: string;
  durationSeconds: number;
  bytesTransferred: number;
  blocksSynchronized: number;
  bytesCompared: number;
  bytesUnchanged: number;
  blockSize: number;
  /**
   * How changed blocks were found: `checkpoint` when a libvirt checkpoint's bitmaps
   * answered for at least one disk (each file says how it was done), else block hashes
   * on both hosts, or none (a full re-copy).
   */
  changeTracking: ChangeTracking;
  /** The source checkpoint this sync left for the next one (with `checkpoint: true`). */
  checkpoint?: string;
  hashTool: BlockHashTool;
  files: FileSyncResult[];
  consistency: Consistency;
  compression: 'zstd' | 'lz4' | 'none';
  /** Through the worker (relay) or pushed by the source host itself (direct). */
  transport: 'relay' | 'direct';
  /** Ranges whose strong digests differed after the sync and were copied again. */
  rangesRecopied: number;
  /** Disks the target had that the source no longer has: detached, files kept. */
  detachedDisks: string[];
  /** An earlier, interrupted sync into the target that this one completed. */
  completedUnfinished?: string;
  warnings: string[];
}
