import type { ActivityDeps } from './deps';
import { removeClone, type RemoveCloneInput } from './remove-clone';

/** Files this operation created, on the destination. */
export type RemoveFilesInput = Pick<RemoveCloneInput, 'destination' | 'paths'>;

export function removeFiles(deps: ActivityDeps) {
  const removeFromDestination = removeClone(deps);
  /**
   * Removes files this operation created on the destination, and nothing else: a sync's
   * added disks, when the sync is undone. As in removeClone: every path must lie under the
   * host's writable roots (1302 before anything is touched), and only regular files go.
   */
  return async function removeFiles(input: RemoveFilesInput): Promise<void> {
    return removeFromDestination({ destination: input.destination, paths: input.paths });
  };
}
