import type { HostRef } from '../domain/schemas/host';
import { DomainPower } from '../hosts/domain-power';
import { LiveSnapshot } from '../hosts/live-snapshot';
import { ErrorCode, KvmCloneError } from '../errors';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface SourcePowerInput {
  source: HostRef;
  vmName: string;
  /** The source's UUID as the migration copied it. */
  uuid: string;
}

export interface PausedSource {
  /** Worker clock (ms) right after the pause: the downtime starts here. */
  pausedAt: number;
  /** The guest agent froze the guest's filesystems before the pause. */
  guestFrozen: boolean;
  warnings: string[];
}

export function pauseSource(deps: ActivityDeps) {
  /**
   * Stops the source for the cutover: where a guest agent answers, it flushes and freezes
   * the guest's filesystems first, so the copy starts from clean filesystems; then the
   * domain is paused (qemu flushes its own caches). A retry finds it paused and goes on.
   */
  return async function pauseSource(input: SourcePowerInput): Promise<PausedSource> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const power = new DomainPower(session, input.vmName, input.uuid);
        const state = await power.state();
        if (state === 'paused') return { pausedAt: Date.now(), guestFrozen: false, warnings: [] };
        if (state !== 'running')
          throw new KvmCloneError(
            ErrorCode.MIGRATION_ERROR,
            `'${input.vmName}' is ${state}; a migration moves a running VM`,
            {
              vmName: input.vmName,
            },
          );
        const warnings: string[] = [];
        let guestFrozen = false;
        if (await new LiveSnapshot(session, input.vmName).guestAgentResponds()) {
          const freeze = await power.freezeFilesystems();
          guestFrozen = freeze.frozen;
          if (!freeze.frozen)
            warnings.push(
              `the guest agent could not freeze filesystems (${freeze.reason}); the cutover is crash-consistent`,
            );
        }
        await power.suspend();
        return { pausedAt: Date.now(), guestFrozen, warnings };
      }),
    );
  };
}

export function resumeSource(deps: ActivityDeps) {
  /**
   * Undoes pauseSource: the source runs again and its filesystems are thawed. Only the
   * migrated domain is touched; one already running (or stopped by someone) is left as it is.
   */
  return async function resumeSource(input: SourcePowerInput & { thaw: boolean }): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const power = new DomainPower(session, input.vmName, input.uuid);
        if ((await power.state()) === 'paused') await power.resume();
        if (input.thaw) await power.thawFilesystems();
      }),
    );
  };
}
