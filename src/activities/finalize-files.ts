import { sh } from '../domain/shell-quote';
import type { HostRef } from '../domain/schemas/host';
import { ErrorCode } from '../errors';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, withHost, type ActivityDeps } from './deps';

/** One disk's copied layers on the destination, top first. */
export interface CopiedChain {
  layers: { path: string; format: string }[];
}

export interface FinalizeFilesInput {
  destination: HostRef;
  /** Verified partial copies and the names they take. */
  renames: { from: string; to: string }[];
  /** Chains whose copied layers must point at each other instead of at the source's paths. */
  chains: CopiedChain[];
  flatten: boolean;
  /** A storage pool to refresh so libvirt sees the new volumes. */
  pool?: string;
}

export function finalizeFiles(deps: ActivityDeps) {
  /**
   * Gives verified copies their final names, re-links backing chains to the copied
   * layers (or merges each chain into one image), and refreshes the storage pool.
   * Every step can run again after a lost reply.
   */
  return async function finalizeFiles(input: FinalizeFilesInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        for (const { from, to } of input.renames) {
          await session.run(sh`if [ -e ${from} ]; then mv -f -- ${from} ${to}; fi`, { what: `renaming ${from}`, failureCode: ErrorCode.TRANSFER_ERROR });
        }
        const disk = new RemoteDisk(session);
        for (const { layers } of input.chains) {
          for (let depth = 0; depth < layers.length - 1; depth++) {
            const below = layers[depth + 1]!;
            await disk.rebaseUnsafe(layers[depth]!.path, below.path, below.format);
          }
          if (input.flatten && layers.length > 1) {
            const top = layers[0]!;
            const flat = `${top.path}.flat`;
            await disk.flattenInto(top.path, flat, top.format);
            await session.run(sh`mv -f -- ${flat} ${top.path}`, { what: `replacing ${top.path}`, failureCode: ErrorCode.TRANSFER_ERROR });
            await disk.removeFiles(layers.slice(1).map((layer) => layer.path));
          }
        }
        if (input.pool) await new Libvirt(session).refreshPool(input.pool);
      }),
    );
  };
}
