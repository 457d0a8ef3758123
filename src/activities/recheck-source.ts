import type { HostRef } from '../domain/schemas/host';
import { Libvirt, type DomainState } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface RecheckSourceInput {
  source: HostRef;
  vmName: string;
  /** Files whose size and times to read again, when the domain is still shut off. */
  paths: string[];
}

/** The source domain as it is now. */
export interface SourceNow {
  /** Absent when the host has no domain of that name any more. */
  state?: DomainState;
  uuid?: string;
  /** `paths`' size, modification and change time (RemoteDisk.fingerprints); only for a shut-off domain. */
  fingerprints?: Record<string, string>;
}

export function recheckSource(deps: ActivityDeps) {
  /**
   * Reads the source domain again after its copy: whether it still exists, with which UUID,
   * in which state, and for a shut-off one its files' stamps. Reads only; what a change
   * means for the copy is the workflow's decision.
   */
  return async function recheckSource(input: RecheckSourceInput): Promise<SourceNow> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const libvirt = new Libvirt(session);
        const uuid = await libvirt.domainUuid(input.vmName);
        if (uuid === undefined) return {};
        const state = await libvirt.domainState(input.vmName);
        if (state === undefined) return {};
        if (state !== 'shut off' || input.paths.length === 0) return { state, uuid };
        return { state, uuid, fingerprints: await new RemoteDisk(session).fingerprints(input.paths) };
      }),
    );
  };
}
