import type { WorkflowExecutionStatusName } from '@temporalio/client';
import type { CloneResult } from '../domain/clone-result';
import type { SyncResult } from '../domain/sync-result';
import type { MigrateResult } from '../domain/migration';
import type { MigrationProgress } from '../workflows/migration-control';
import type { FailureInfo } from '../failures';
import type { OperationProgress } from '../workflows/progress';

/**
 * The workflow types that are kvm-clone operations, and what the CLI calls each: a
 * workflow type listed here shows in listOperations and status. A migration's passes are
 * child cloneVM and syncVM workflows, so they show too, under ids that start with the
 * migration's.
 */
export const OPERATION_KINDS = {
  cloneVM: 'clone',
  syncVM: 'sync',
  scheduledCloneVM: 'clone',
  migrateVM: 'migrate',
} as const satisfies Record<string, string>;

export type OperationWorkflowType = keyof typeof OPERATION_KINDS;
export type OperationKind = (typeof OPERATION_KINDS)[OperationWorkflowType];

/** Temporal's execution status names, as workflow.list and describe report them. */
export type OperationState = WorkflowExecutionStatusName;

export interface OperationSummary {
  operationId: string;
  runId: string;
  kind: OperationKind | 'other';
  workflowType: string;
  state: OperationState;
  /** ISO 8601 times, so the summary is plain JSON. */
  startTime: string;
  closeTime?: string;
  taskQueue: string;
}

export interface OperationStatus extends OperationSummary {
  /** While running, and when a worker answered the progress query. */
  progress?: OperationProgress;
  /** Why there is no progress for a running operation (e.g. no worker is running). */
  progressUnavailable?: string;
  /** A running migration's passes, phase, estimated downtime and hold, when a worker answered. */
  migration?: MigrationProgress;
  /** Once completed. */
  result?: CloneResult | SyncResult | MigrateResult;
  /** Once failed, cancelled, terminated or timed out: the kvm-clone error code. */
  error?: FailureInfo;
}

export interface ListOperationsOptions {
  /** `active`: running ones only (the default); `all`: finished ones too, newest first. */
  filter?: 'active' | 'all';
  /** At most this many (default 50). */
  limit?: number;
}

/** A string literal of Temporal's visibility query language. */
function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The visibility query that finds kvm-clone operations on one task queue. */
export function operationsQuery(taskQueue: string, filter: 'active' | 'all'): string {
  const types = Object.keys(OPERATION_KINDS).map(literal).join(', ');
  const clauses = [`WorkflowType IN (${types})`, `TaskQueue = ${literal(taskQueue)}`];
  if (filter === 'active') clauses.push(`ExecutionStatus = 'Running'`);
  // No ORDER BY: SQL visibility (the dev server's) refuses it; it returns newest first anyway.
  return clauses.join(' AND ');
}

export function operationKind(workflowType: string): OperationKind | 'other' {
  return (OPERATION_KINDS as Record<string, OperationKind>)[workflowType] ?? 'other';
}
