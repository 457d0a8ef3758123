import type { HostRef } from '../domain/schemas/host';
import { hostLabel } from '../workflows/host-label';

/**
 * The workflow id of a clone: one per source VM, destination and new name, so Temporal
 * itself refuses a second clone of the same VM to the same name while one runs. Starts
 * with ids of their own (the Web UI, another client) are kept apart by the destination
 * lock the workflow takes on the new name.
 */
export function cloneOperationId(
  source: HostRef,
  vmName: string,
  destination: HostRef,
  newName: string = `${vmName}_clone`,
): string {
  return `clone:${hostLabel(source)}:${vmName}:${hostLabel(destination)}:${newName}`;
}

/**
 * The workflow id of a sync: one per target VM, so two syncs never write into the same
 * copy at once, whichever source they come from.
 */
export function syncOperationId(destination: HostRef, targetName: string): string {
  return `sync:${hostLabel(destination)}:${targetName}`;
}

/**
 * The workflow id of a migration: one per source VM, so a VM is never moved twice at once,
 * whatever the destination. The passes it runs are its children, with ids of their own.
 */
export function migrateOperationId(source: HostRef, vmName: string): string {
  return `migrate:${hostLabel(source)}:${vmName}`;
}
