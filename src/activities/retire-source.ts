import { DomainPower } from '../hosts/domain-power';
import { ErrorCode, KvmCloneError } from '../errors';
import { activityBody, withHost, type ActivityDeps } from './deps';
import type { SourcePowerInput } from './pause-source';

export interface RetireSourceInput extends SourcePowerInput {
  /** Leave it defined, stopped and with autostart off, instead of undefining it. */
  keep: boolean;
  /** It was copied shut off: one started since then has changed after its copy, and is left alone (1206). */
  mustBeShutOff: boolean;
}

export function retireSource(deps: ActivityDeps) {
  /**
   * Ends the source once its copy runs on the destination: stops it, then undefines it
   * (keeping its disks, NVRAM and TPM state) or, with `keep`, leaves it defined with
   * autostart off. A domain that is no longer the one migrated is left alone (1003).
   */
  return async function retireSource(input: RetireSourceInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const power = new DomainPower(session, input.vmName, input.uuid);
        // Gone after an earlier attempt undefined it: the work is done.
        if (!input.keep && (await power.isGone())) return;
        const state = await power.state();
        if (input.mustBeShutOff && state !== 'shut off')
          throw new KvmCloneError(
            ErrorCode.MIGRATION_ERROR,
            `'${input.vmName}' was started after its copy (it is ${state}); the copy was removed and the source left running`,
            { vmName: input.vmName },
          );
        if (state !== 'shut off') await power.destroy();
        if (input.keep) await power.disableAutostart();
        else await power.undefineKeepingData();
      }),
    );
  };
}
