import { CancellationScope } from '@temporalio/workflow';
import { failureInfo } from '../failures';
import { cleanup, preflightCalls } from './activity-proxies';
import { hostLabel } from './host-label';
import type { Operation, OperationOptions } from './operation';

/** Gives a held lock back at the end of an operation that worked. */
export type LockRelease = () => Promise<void>;

/**
 * Takes the lock on `name` on the destination, so two operations on one name never
 * interleave, whatever their workflow ids. Its release is an undo step registered once the
 * lock is held (so unwound last): a lock never acquired, on a host never reached, needs
 * none. The returned release ends an operation that worked: a cancellation or timeout
 * arriving then does not stop it, and a release that fails is a warning, since the
 * operation stands.
 */
export async function holdDestinationLock(operation: Operation<OperationOptions>, name: string): Promise<LockRelease> {
  const { destination } = operation.options;
  await preflightCalls.acquireDestinationLock({ destination, name });
  operation.compensations.add(
    'release the destination lock',
    () => cleanup.releaseDestinationLock({ destination, name }),
    `'${name}' stays locked on ${hostLabel(destination)}`,
  );
  return async () => {
    try {
      await CancellationScope.nonCancellable(() => cleanup.releaseDestinationLock({ destination, name }));
    } catch (error) {
      operation.warnings.push(`the lock on '${name}' could not be released: ${failureInfo(error).message}`);
    }
  };
}
