import type { Consistency } from './clone-result';

/** One copy of the source onto the destination during a migration. */
export interface MigrationPass {
  /**
   * The first full copy, a sync while the source runs, or the last sync with the source paused;
   * in live mode, libvirt's migration (its job, not a child workflow).
   */
  kind: 'clone' | 'sync' | 'final' | 'live';
  /** The child workflow that made it; in live mode, the activity's operation. */
  operationId: string;
  bytesTransferred: number;
  seconds: number;
}

/** How a migration moves the VM. */
export type MigrationMode = 'warm' | 'live';

/** What a migration did, with the downtime it cost. */
export interface MigrateResult {
  operationId: string;
  success: true;
  vmName: string;
  newName: string;
  sourceHost: string;
  destinationHost: string;
  durationSeconds: number;
  warnings: string[];
  passes: MigrationPass[];
  bytesTransferred: number;
  /** From the source's pause to the destination's start, as the worker's clock measured them. */
  downtimeSeconds: number;
  /** warm: copies, syncs and a short pause; live: libvirt's own live migration (`virsh migrate --live`). */
  mode: MigrationMode;
  /** warm: the source paused for the final sync; live: libvirt switched over, with its own downtime. */
  cutover: 'pause' | 'live';
  /** The guest's filesystems were frozen by its agent before the pause. */
  guestFrozen: boolean;
  /** warm: how the first copy held the running source still; live: the guest moved whole, memory and all. */
  consistency: Consistency | 'live';
  /** The source is still defined (stopped, autostart off); otherwise it is undefined. Its files stay either way. */
  sourceKept: boolean;
}

/** What happens after a sync pass. */
export type NextStep =
  { step: 'sync' } | { step: 'cutover'; reason: 'converged' | 'requested' } | { step: 'give-up'; reason: string };

/**
 * The downtime a cutover would cost now: the last sync's duration. The final sync sends
 * what the guest wrote during that sync, which a converging migration keeps below what
 * that sync sent, and pays the same fixed costs (inspection, snapshot, verification).
 */
export function estimatedDowntime(passes: readonly MigrationPass[]): number | undefined {
  return passes.filter((pass) => pass.kind === 'sync').at(-1)?.seconds;
}

/**
 * Whether to sync again, cut over, or give up, after a sync pass. Syncs repeat while each
 * sends less than the one before, until the last took no longer than `maxDowntime`. A
 * migration that stops converging above it, or runs out of passes, gives up rather than
 * cost more downtime than was asked for; an operator's request cuts over regardless.
 */
export function nextStep(
  passes: readonly MigrationPass[],
  limits: { maxDowntime: number; maxPasses: number; cutoverRequested: boolean },
): NextStep {
  const syncs = passes.filter((pass) => pass.kind === 'sync');
  const last = syncs.at(-1);
  if (limits.cutoverRequested) return { step: 'cutover', reason: 'requested' };
  if (!last) return { step: 'sync' };
  if (last.seconds <= limits.maxDowntime) return { step: 'cutover', reason: 'converged' };
  const before = syncs.at(-2);
  const estimate = `the last sync took ${last.seconds.toFixed(1)} s, more than the ${limits.maxDowntime} s of downtime allowed`;
  if (before && last.bytesTransferred >= before.bytesTransferred)
    return {
      step: 'give-up',
      reason: `the copy stopped converging (sync passes sent ${syncs.map((pass) => pass.bytesTransferred).join(', ')} bytes) and ${estimate}`,
    };
  if (syncs.length >= limits.maxPasses)
    return { step: 'give-up', reason: `${syncs.length} sync passes did not converge: ${estimate}` };
  return { step: 'sync' };
}
