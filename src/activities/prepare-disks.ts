import type { HostRef } from '../domain/schemas/host';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface PrepareDisksInput {
  destination: HostRef;
  disks: { path: string; size: number }[];
}

export function prepareDisks(deps: ActivityDeps) {
  /**
   * Creates each destination file empty and at its final size, so every range can be
   * written at its offset and holes stay holes. Preflight has made sure no file of
   * someone else's is at these paths, so a retry may safely recreate them.
   */
  return async function prepareDisks(input: PrepareDisksInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const disk = new RemoteDisk(session);
        for (const { path, size } of input.disks) await disk.createSparseFile(path, size);
      }),
    );
  };
}
