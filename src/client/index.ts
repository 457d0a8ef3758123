/** The typed client of kvm-clone: what other services import. */
export { KvmCloneClient, toKvmCloneError, type KvmCloneClientOptions } from './kvm-clone-client';
export { cloneOperationId } from './operation-id';
export { cloneInputSchema, type CloneInput, type CloneOptions } from '../domain/schemas/clone-input';
export { hostSpecSchema, hostRefSchema, type HostSpec, type HostSpecInput, type HostRef } from '../domain/schemas/host';
export type { CloneResult, DiskCopyResult, FileDigest } from '../domain/clone-result';
export type { OperationProgress, DiskProgress } from '../workflows/progress';
export { ErrorCode, KvmCloneError, errorCodeName } from '../errors';
export { DEFAULT_TASK_QUEUE } from '../task-queue';
