import type { HostRef } from '../domain/schemas/host';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { sh } from '../domain/shell-quote';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface RemoveCloneInput {
  destination: HostRef;
  /** The clone's domain, when this operation defined it. */
  vmName?: string;
  /** Files this operation created. */
  paths: string[];
  /** Directories this operation created, removed with what is in them (a clone's TPM state). */
  directories?: string[];
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
        const disk = new RemoteDisk(session);
        await disk.removeFiles(input.paths);
        if (input.directories?.length) await session.run(sh`rm -rf -- ${input.directories}`, { what: 'removing directories' });
      }),
    );
  };
}
