import type { FileRole } from './copied-file';

/** A SHA-256 computed on a host from the file on disk, and which tool computed it. */
export interface FileDigest {
  algorithm: 'sha256';
  hex: string;
  /** Slower fallbacks are reported so users know why hashing took long. */
  tool: 'python3' | 'perl' | 'coreutils';
}

/** How the source was held still while it was read. */
export type Consistency = 'offline' | 'crash-consistent' | 'quiesced';

export interface FileCopyResult {
  role: FileRole;
  target: string;
  sourcePath: string;
  destinationPath: string;
  format: string;
  fileSize: number;
  /** Bytes that crossed the wire for this file, compressed when compression was on. */
  bytesTransferred: number;
  bytesSkippedAsHoles: number;
  digest?: {
    algorithm: FileDigest['algorithm'];
    source: string;
    destination: string;
    tools: [FileDigest['tool'], FileDigest['tool']];
  };
}

/** One file in a dry run's plan. */
export interface PlannedFileSummary {
  role: FileRole;
  target: string;
  format: string;
  virtualSize: number;
  allocatedSize: number;
  dataBytes: number;
  sourcePath: string;
  destinationPath: string;
}

/** What a clone would do: everything a dry run finds out without changing anything. */
export interface ClonePlan {
  files: PlannedFileSummary[];
  /** Data bytes that would cross the wire (before compression). */
  bytesToTransfer: number;
  destinationDir: string;
  destinationFreeBytes: number;
  consistency: Consistency;
  compression: 'zstd' | 'lz4' | 'none';
  /** With force: the destination VM that would be replaced. */
  replaces?: string;
  /** Unified diff from the source's definition to the clone's. */
  xmlDiff: string;
}

/** The original tool's CloneResult, plus holes, digests, consistency and resume details. */
export interface CloneResult {
  operationId: string;
  success: boolean;
  dryRun: boolean;
  vmName: string;
  newName: string;
  sourceHost: string;
  destinationHost: string;
  durationSeconds: number;
  bytesTransferred: number;
  bytesSkippedAsHoles: number;
  /** Bytes a retried transfer did not send again because an earlier attempt had written them. */
  bytesResumed: number;
  /** Ranges whose digests differed after the copy and that were copied again. */
  rangesRecopied: number;
  files: FileCopyResult[];
  consistency: Consistency;
  compression: 'zstd' | 'lz4' | 'none';
  /** Through the worker (relay) or pushed by the source host itself (direct). */
  transport: 'relay' | 'direct';
  /** The destination VM this clone replaced (force). */
  replaced?: string;
  started: boolean;
  plan?: ClonePlan;
  warnings: string[];
}
