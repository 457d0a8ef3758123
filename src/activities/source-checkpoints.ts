import type { HostRef } from '../domain/schemas/host';
import { Checkpoints } from '../hosts/checkpoints';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface CreateCheckpointInput {
  source: HostRef;
  vmName: string;
  name: string;
  /** Disk targets whose writes the checkpoint records; the domain's other disks are left out. */
  bitmapTargets: string[];
}

export interface RemoveCheckpointsInput {
  source: HostRef;
  vmName: string;
  /** The checkpoints of one sync target: those whose names start with it. */
  prefix: string;
  keep: string[];
}

export function createCheckpoint(deps: ActivityDeps) {
  /** Starts recording the source's writes for the next sync, just before this one freezes its disks. */
  return async function createCheckpoint(input: CreateCheckpointInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.source, (session) =>
        new Checkpoints(session, input.vmName).create(input.name, input.bitmapTargets),
      ),
    );
  };
}

export function removeCheckpoints(deps: ActivityDeps) {
  /** Deletes a sync target's checkpoints other than `keep`; returns the names deleted. */
  return async function removeCheckpoints(input: RemoveCheckpointsInput): Promise<string[]> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const checkpoints = new Checkpoints(session, input.vmName);
        const doomed = (await checkpoints.names()).filter(
          (name) => name.startsWith(input.prefix) && !input.keep.includes(name),
        );
        for (const name of doomed) await checkpoints.delete(name);
        return doomed;
      }),
    );
  };
}
