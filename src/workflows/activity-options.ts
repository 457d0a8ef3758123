import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';

/**
 * The first calls of an operation (the lock, inspecting the source, the destination or a
 * sync's target): nothing exists yet and the caller is waiting, and a host that does not
 * answer here is most often a wrong address, so a few tries over about 15 s, then 1002.
 */
export const preflightOptions: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};

/**
 * Short calls to a host's virsh, qemu-img or shell once an operation is under way: giving
 * up then throws away the copy made so far, so a host whose link or sshd is gone for a
 * minute or two is waited for (9 attempts span about 2.5 minutes). A cancelled workflow
 * waits for the call in flight, so cleanup never races the change it undoes (a snapshot
 * finishing after its merge-back, a file created after its removal).
 */
export const hostCallOptions: ActivityOptions = {
  ...preflightOptions,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 9 },
};

/**
 * Range transfers run long and heartbeat; a missed heartbeat means a dead worker or
 * link, and the retry resumes from the last confirmed batch.
 */
export const transferOptions: ActivityOptions = {
  startToCloseTimeout: '12 hours',
  // The transfer stops writing before cleanup removes its file; else a new batch could recreate it.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
};

/** One long remote call (hashing, a block job, a flatten) that heartbeats, so a dead worker shows within a minute. */
const longHeartbeatingCall: ActivityOptions = { startToCloseTimeout: '6 hours', heartbeatTimeout: '1 minute' };

/**
 * Hashing a large disk is one long remote call; a ticker keeps its heartbeat alive. Giving
 * up fails the operation and discards a copy that may have taken hours, so a host whose
 * link or sshd is gone for a minute or two is waited for: 8 attempts span about 3 minutes
 * (2, 4, 8, 16, 32, 60 and 60 s apart).
 */
export const verifyOptions: ActivityOptions = {
  ...longHeartbeatingCall,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8 },
};

/** Cleanup must get through, so it keeps trying for longer than anything else. */
export const cleanupOptions: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
};

/**
 * Merging a live snapshot's overlays back into the source's disks: one block job per disk
 * that runs as long as the guest wrote during the copy (a busy guest: many GiB, so far
 * longer than a host call). The activity heartbeats at every poll of the job, so a dead
 * worker shows within a minute, and a retry follows the job already running instead of
 * starting another. The source must not stay on its overlays, so it keeps trying like cleanup.
 */
export const mergeBackOptions: ActivityOptions = {
  ...longHeartbeatingCall,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
};

/**
 * Giving verified copies their final names: renames and re-links take seconds, but
 * flattening a backing chain is one qemu-img convert as long as the chain is big. The
 * activity heartbeats while it converts, so a dead worker shows within a minute.
 */
export const finalizeOptions: ActivityOptions = { ...hostCallOptions, ...longHeartbeatingCall };

/** Steps a sync can do without (change tracking): a few tries, then the sync hashes instead. */
export const optionalHostCallOptions: ActivityOptions = {
  ...hostCallOptions,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3 },
};

/**
 * libvirt's live migration: one job as long as the guest's memory and disks take to move.
 * The activity heartbeats from the job's counters, so a dead worker shows within 30 s,
 * and a retry follows the job still running (or finds it done) instead of
 * starting another. A cancelled workflow waits for the abort, so the source runs again
 * before the destination's images are removed.
 */
export const liveMigrationOptions: ActivityOptions = {
  ...hostCallOptions,
  ...longHeartbeatingCall,
  // It heartbeats every 2 s from libvirt's counters: a worker that died shows in half the usual minute.
  heartbeatTimeout: '30 seconds',
};
