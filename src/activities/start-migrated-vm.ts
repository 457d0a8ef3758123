import type { HostRef } from '../domain/schemas/host';
import { DomainPower } from '../hosts/domain-power';
import { ErrorCode, KvmCloneError } from '../errors';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface MigratedVmInput {
  destination: HostRef;
  vmName: string;
  uuid: string;
}

export function startMigratedVm(deps: ActivityDeps) {
  /**
   * Starts the migrated VM on the destination and checks that it runs; returns the worker's
   * clock (ms) right after the start, where the downtime ends. A retry finds it running.
   */
  return async function startMigratedVm(input: MigratedVmInput): Promise<{ startedAt: number }> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const power = new DomainPower(session, input.vmName, input.uuid);
        if ((await power.state()) !== 'running') await power.start();
        const startedAt = Date.now();
        const state = await power.state();
        if (state !== 'running')
          throw new KvmCloneError(
            ErrorCode.MIGRATION_ERROR,
            `'${input.vmName}' did not stay running after its start: it is ${state}`,
            {
              vmName: input.vmName,
            },
          );
        return { startedAt };
      }),
    );
  };
}

export function stopMigratedVm(deps: ActivityDeps) {
  /** Undoes startMigratedVm, so the source never runs again beside its copy. */
  return async function stopMigratedVm(input: MigratedVmInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const power = new DomainPower(session, input.vmName, input.uuid);
        if (await power.isGone()) return;
        if ((await power.state()) !== 'shut off') await power.destroy();
      }),
    );
  };
}
