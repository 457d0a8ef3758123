import type { HostRef } from '../domain/schemas/host';
import { hostLabel } from '../workflows/host-label';

/**
 * The workflow id of a clone: one per source VM and destination, so Temporal itself
 * refuses a second clone of the same VM to the same host while one runs.
 */
export function cloneOperationId(source: HostRef, vmName: string, destination: HostRef): string {
  return `clone:${hostLabel(source)}:${vmName}:${hostLabel(destination)}`;
}

/**
 * The workflow id of a sync: one per target VM, so two syncs never write into the same
 * copy at once, whichever source they come from.
 */
export function syncOperationId(destination: HostRef, targetName: string): string {
  return `sync:${hostLabel(destination)}:${targetName}`;
}
