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
  /** A migration's pass under way: its own progress is the child workflow's, which `client.progress` reads. */
  pass?: { kind: 'clone' | 'sync' | 'final'; operationId: string };
}

export const progressQuery = defineQuery<OperationProgress>('progress');
