import { checkDestination } from './check-destination';
import { defineClone } from './define-clone';
import type { ActivityDeps } from './deps';
import { inspectSource } from './inspect-source';
import { prepareDisks } from './prepare-disks';
import { removeClone } from './remove-clone';
import { transferRange } from './transfer-range';
import { verifyDisk } from './verify-disk';

/** The worker's activities, bound to the worker's SSH pool and host registry. */
export function createActivities(deps: ActivityDeps) {
  return {
    inspectSource: inspectSource(deps),
    checkDestination: checkDestination(deps),
    prepareDisks: prepareDisks(deps),
    transferRange: transferRange(deps),
    verifyDisk: verifyDisk(deps),
    defineClone: defineClone(deps),
    removeClone: removeClone(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { createActivityDeps, type ActivityDeps } from './deps';
