import type { HostRef } from '../domain/schemas/host';
import { RemoteDisk } from '../hosts/remote-disk';
import { SyncMarker } from '../hosts/sync-marker';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface RecordCheckpointInput {
  destination: HostRef;
  targetName: string;
  checkpoint: string;
  sourceUuid: string;
  /** The target's disk files whose state the checkpoint vouches for. */
  paths: string[];
}

export function recordCheckpoint(deps: ActivityDeps) {
  /**
   * Notes on the finished target which source checkpoint its disks equal, with each
   * file's size and times, so the next sync trusts the bitmap only for untouched files.
   */
  return async function recordCheckpoint(input: RecordCheckpointInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const fingerprints = await new RemoteDisk(session).fingerprints(input.paths);
        await new SyncMarker(session, input.targetName).recordCheckpoint({
          name: input.checkpoint,
          sourceUuid: input.sourceUuid,
          fingerprints,
        });
      }),
    );
  };
}
