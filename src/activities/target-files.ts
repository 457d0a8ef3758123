import type { HostRef } from '../domain/schemas/host';
import type { ActivityDeps } from './deps';
import { finalizeFiles, type CopiedChain } from './finalize-files';

export interface RenameAddedDisksInput {
  destination: HostRef;
  /** An added disk's partial file, written and verified, and the name it takes. */
  renames: { from: string; to: string }[];
}

export function renameAddedDisks(deps: ActivityDeps) {
  const finalize = finalizeFiles(deps);
  /**
   * Gives a sync's added disks their names in the target, as finalizeFiles gives a clone's
   * copies theirs: never over a file that is there (1004), and again after a lost reply.
   */
  return async function renameAddedDisks(input: RenameAddedDisksInput): Promise<void> {
    return finalize({ destination: input.destination, renames: input.renames, chains: [], flatten: false });
  };
}

export interface RelinkBackingChainsInput {
  destination: HostRef;
  /** The target's disks that have backing chains, each layer as the sync left it. */
  chains: CopiedChain[];
}

export function relinkBackingChains(deps: ActivityDeps) {
  const finalize = finalizeFiles(deps);
  /**
   * Points each synced layer of the target at the target's layer below it: the sync wrote
   * the source's bytes, whose headers name the source's backing files.
   */
  return async function relinkBackingChains(input: RelinkBackingChainsInput): Promise<void> {
    return finalize({ destination: input.destination, renames: [], chains: input.chains, flatten: false });
  };
}
