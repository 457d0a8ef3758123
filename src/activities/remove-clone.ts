import { Context } from '@temporalio/activity';
import type { HostRef } from '../domain/schemas/host';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { sh } from '../domain/shell-quote';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { assertRemovableTpmDirectories, assertWritable } from './writable-paths';

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
  /**
   * Undoes a clone on the destination: stops and undefines its domain, removes its files.
   * Every path must lie under the host's writable roots (1302 before anything is touched);
   * only regular files are removed, and whole directories only below libvirt's TPM state
   * directory.
   */
  return async function removeClone(input: RemoveCloneInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        await assertWritable(session, input.paths, 'file to remove');
        const directories = (await assertRemovableTpmDirectories(session, input.directories ?? []))
          .filter((directory) => directory.kind === 'directory')
          .map((directory) => directory.path);
        if (input.vmName !== undefined) {
          const libvirt = new Libvirt(session);
          await libvirt.destroy(input.vmName);
          await libvirt.undefine(input.vmName);
        }
        const { kept } = await new RemoteDisk(session).removeFiles(input.paths);
        // Not regular files (a symlink, a directory): this operation did not make them, so they stay.
        for (const path of kept)
          Context.current().log.warn(`${path} is not a regular file; it is left in place`, { path });
        if (directories.length > 0) await session.run(sh`rm -rf -- ${directories}`, { what: 'removing directories' });
      }),
    );
  };
}
