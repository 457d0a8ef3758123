import { Context } from '@temporalio/activity';
import type { HostRef } from '../domain/schemas/host';
import { LiveSnapshot, type FrozenDisk, type MergeOutcome, type MergeProgress } from '../hosts/live-snapshot';
import { activityBody, throttledHeartbeat, withHost, type ActivityDeps } from './deps';
import { whileTicking } from './heartbeat-ticker';

export interface MergeSourceInput {
  source: HostRef;
  vmName: string;
  disks: FrozenDisk[];
  /** The definition from before the snapshot, restored if the domain stopped meanwhile. */
  originalXml: string;
}

export function mergeSource(deps: ActivityDeps) {
  /**
   * Folds the guest's writes back into its disks and removes the overlays: the source ends
   * as it began. Heartbeats the merge's progress (mergeBackOptions: a missed heartbeat
   * means a dead worker, and the retry follows the block job already running).
   */
  return async function mergeSource(input: MergeSourceInput): Promise<MergeOutcome> {
    return activityBody(() => {
      const context = Context.current();
      const heartbeat = throttledHeartbeat();
      let latest: MergeProgress | { merging: true } = { merging: true };
      return whileTicking(
        heartbeat,
        () => latest,
        () =>
          withHost(deps, input.source, (session) =>
            new LiveSnapshot(session, input.vmName).mergeBack(input.disks, input.originalXml, {
              signal: context.cancellationSignal,
              onProgress: (progress) => {
                latest = progress;
                heartbeat(progress);
              },
            }),
          ),
      );
    });
  };
}
