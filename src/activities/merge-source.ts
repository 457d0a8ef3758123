import type { HostRef } from '../domain/schemas/host';
import { LiveSnapshot, type FrozenDisk, type MergeOutcome } from '../hosts/live-snapshot';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface MergeSourceInput {
  source: HostRef;
  vmName: string;
  disks: FrozenDisk[];
  /** The definition from before the snapshot, restored if the domain stopped meanwhile. */
  originalXml: string;
}

export function mergeSource(deps: ActivityDeps) {
  /** Folds the guest's writes back into its disks and removes the overlays: the source ends as it began. */
  return async function mergeSource(input: MergeSourceInput): Promise<MergeOutcome> {
    return activityBody(() => withHost(deps, input.source, (session) => new LiveSnapshot(session, input.vmName).mergeBack(input.disks, input.originalXml)));
  };
}
