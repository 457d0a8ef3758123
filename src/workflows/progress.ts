import { defineQuery } from '@temporalio/workflow';

export interface DiskProgress {
  target: string;
  bytesTotal: number;
  /** Data bytes whose ranges have completed; in-flight bytes are in activity heartbeats. */
  bytesDone: number;
  phase: 'pending' | 'copying' | 'verifying' | 'done';
}

export interface OperationProgress {
  phase:
    | 'validating'
    | 'preflight'
    | 'snapshotting'
    | 'copying'
    | 'verifying'
    | 'merging'
    | 'defining'
    | 'cleaning-up'
    | 'done'
    | 'failed';
  disks: DiskProgress[];
  bytesTotal: number;
  bytesDone: number;
}

export const progressQuery = defineQuery<OperationProgress>('progress');
