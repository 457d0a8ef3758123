/** The typed client of kvm-clone: what other services import. */
export { KvmCloneClient, toKvmCloneError, type KvmCloneClientOptions } from './kvm-clone-client';
export { cloneOperationId, migrateOperationId, syncOperationId } from './operation-id';
export {
  OVERLAP_POLICIES,
  type CreateScheduleOptions,
  type OverlapPolicy,
  type ScheduledAction,
  type ScheduleDetails,
  type ScheduleRun,
  type ScheduleRunResult,
  type ScheduleSummary,
} from './schedules';
export {
  notifySchema,
  webhookSchema,
  NOTIFICATION_EVENTS,
  type Notify,
  type NotifyInput,
  type Webhook,
  type WebhookInput,
  type NotificationEvent,
} from '../domain/schemas/notify';
export type { NotificationDocument } from '../domain/notification';
export {
  verifyWebhookSignature,
  webhookSignature,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
} from '../notifications/signature';
export {
  OPERATION_KINDS,
  operationsQuery,
  type ListOperationsOptions,
  type OperationKind,
  type OperationState,
  type OperationStatus,
  type OperationSummary,
  type OperationWorkflowType,
} from './operations';
export { cloneInputSchema, type CloneInput, type CloneOptions } from '../domain/schemas/clone-input';
export { syncInputSchema, type SyncInput, type SyncOptions } from '../domain/schemas/sync-input';
export type { SyncResult, FileSyncResult } from '../domain/sync-result';
export {
  migrateInputSchema,
  cutoverTimeSchema,
  type MigrateInput,
  type MigrateOptions,
} from '../domain/schemas/migrate-input';
export type { MigrateResult, MigrationPass } from '../domain/migration';
export type { CutoverRequest, MigrationProgress } from '../workflows/migration-control';
export { bandwidthLimitSchema } from '../domain/schemas/bandwidth';
export { hostSpecSchema, hostRefSchema, type HostSpec, type HostSpecInput, type HostRef } from '../domain/schemas/host';
export type {
  CloneResult,
  ClonePlan,
  Consistency,
  FileCopyResult,
  FileDigest,
  PlannedFileSummary,
} from '../domain/clone-result';
export type { OperationProgress, DiskProgress } from '../workflows/progress';
export type { FailureInfo } from '../failures';
export { ErrorCode, KvmCloneError, errorCodeName } from '../errors';
export { DEFAULT_TASK_QUEUE } from '../task-queue';
