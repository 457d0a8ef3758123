import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  describeHolder,
  holderRecord,
  lockPathFor,
  parseHolderRecord,
  type LockHolder,
} from '../domain/destination-lock';
import { writableRoots, type HostRef, type HostSpec } from '../domain/schemas/host';
import { ErrorCode, KvmCloneError } from '../errors';
import { takeOverLock, tryLock, unlock } from '../hosts/destination-lock';
import { describeHost } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface DestinationLockInput {
  destination: HostRef;
  /** The VM name the operation creates or writes: a clone's new name, a sync's target. */
  name: string;
}

/**
 * Where a host keeps the lock of a VM name: in its first writable root, which every operation on the host agrees on.
 */
export function destinationLockPath(host: HostSpec, name: string): string {
  return lockPathFor(writableRoots(host)[0]!, name);
}

/** The operation asking, from Temporal's own record of the activity: an input cannot pose as another operation. */
function currentHolder(name: string): LockHolder {
  const info = Context.current().info;
  return {
    namespace: info.namespace,
    operationId: info.workflowExecution?.workflowId ?? info.activityId,
    runId: info.workflowExecution?.runId ?? '',
    name,
  };
}

/**
 * Whether the holder's run is over (completed, failed, terminated, timed out), so its
 * lock is stale. A terminated operation runs no cleanup and leaves its lock behind.
 * A holder in another namespace, or a worker without a client, is taken to be alive.
 */
async function holderIsGone(holder: LockHolder | undefined): Promise<boolean> {
  if (!holder || holder.namespace !== Context.current().info.namespace) return false;
  let client;
  try {
    client = Context.current().client;
  } catch {
    return false;
  }
  try {
    const description = await client.workflow.getHandle(holder.operationId, holder.runId).describe();
    return description.status.name !== 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return true;
    throw error;
  }
}

export function acquireDestinationLock(deps: ActivityDeps) {
  /**
   * Locks a VM name on the destination for this operation, so that two operations never
   * create or write the same VM at once, however they were started (the CLI, a schedule,
   * the Web UI with a workflow id of its own). A second operation gets 1004 naming the
   * holder; the same operation retrying gets its lock back; a lock whose operation is
   * over is taken over.
   */
  return async function acquireDestinationLock(input: DestinationLockInput): Promise<{ lockPath: string }> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const lockPath = destinationLockPath(session.host, input.name);
        const record = holderRecord(currentHolder(input.name));
        const attempt = await tryLock(session, lockPath, record);
        if (attempt.acquired) return { lockPath };
        const holder = parseHolderRecord(attempt.holderRecord);
        const where = describeHost(session.host);
        if (attempt.replacedPending) {
          throw new KvmCloneError(
            ErrorCode.VM_EXISTS_ERROR,
            `'${input.name}' on ${where} is locked by ${describeHolder(holder)}, which set aside a VM it replaced and did not restore it; its definition is in ${lockPath}/replaced.xml (virsh define it, then remove ${lockPath})`,
            { vmName: input.name, host: where, lockPath, ...(holder ? { holder: holder.operationId } : {}) },
          );
        }
        if (await holderIsGone(holder)) {
          if (await takeOverLock(session, lockPath, attempt.holderRecord, record)) return { lockPath };
        }
        throw new KvmCloneError(
          ErrorCode.VM_EXISTS_ERROR,
          `'${input.name}' on ${where} is being written by ${describeHolder(holder)}; try again when it has finished (lock ${lockPath})`,
          {
            vmName: input.name,
            host: where,
            lockPath,
            ...(holder ? { holder: holder.operationId } : {}),
          },
        );
      }),
    );
  };
}

export function releaseDestinationLock(deps: ActivityDeps) {
  /**
   * Releases this operation's lock; a lock it does not hold is left alone. A lock that
   * still keeps a replaced VM's saved definition is kept, and the failure says where.
   */
  return async function releaseDestinationLock(input: DestinationLockInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const lockPath = destinationLockPath(session.host, input.name);
        const outcome = await unlock(session, lockPath, holderRecord(currentHolder(input.name)));
        if (outcome === 'replaced-pending') {
          throw new KvmCloneError(
            ErrorCode.CLONE_ERROR,
            `the lock ${lockPath} on ${describeHost(session.host)} is kept: it holds the definition of the VM '${input.name}' replaced by this operation, which was not restored (virsh define ${lockPath}/replaced.xml, then remove ${lockPath})`,
            { vmName: input.name, lockPath },
            { retryable: false },
          );
        }
      }),
    );
  };
}
