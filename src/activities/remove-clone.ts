import type { HostRef } from '../domain/schemas/host';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface RemoveCloneInput {
  destination: HostRef;
  /** The clone's domain, when this operation defined it. */
  vmName?: string;
  /** Files this operation created. */
  paths: string[];
}

export function removeClone(deps: ActivityDeps) {
  /** Undoes a clone on the destination: stops and undefines its domain, removes its files. */
  return async function removeClone(input: RemoveCloneInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        if (input.vmName !== undefined) {
          const libvirt = new Libvirt(session);
          await libvirt.destroy(input.vmName);
          await libvirt.undefine(input.vmName);
        }
        await new RemoteDisk(session).removeFiles(input.paths);
      }),
    );
  };
}
