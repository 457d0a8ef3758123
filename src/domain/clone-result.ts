/** A SHA-256 computed on a host from the file on disk, and which tool computed it. */
export interface FileDigest {
  algorithm: 'sha256';
  hex: string;
  /** Slower fallbacks are reported so users know why hashing took long. */
  tool: 'python3' | 'perl' | 'coreutils';
}

export interface DiskCopyResult {
  target: string;
  sourcePath: string;
  destinationPath: string;
  format: string;
  fileSize: number;
  bytesTransferred: number;
  bytesSkippedAsHoles: number;
  digest?: { algorithm: FileDigest['algorithm']; source: string; destination: string; tools: [FileDigest['tool'], FileDigest['tool']] };
}

/** The original tool's CloneResult, plus hole, digest and consistency details. */
export interface CloneResult {
  operationId: string;
  success: boolean;
  vmName: string;
  newName: string;
  sourceHost: string;
  destinationHost: string;
  durationSeconds: number;
  bytesTransferred: number;
  bytesSkippedAsHoles: number;
  disks: DiskCopyResult[];
  /** How the source was held still while it was read. */
  consistency: 'offline';
  started: boolean;
  warnings: string[];
}
