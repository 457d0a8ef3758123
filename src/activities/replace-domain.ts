import type { HostRef } from '../domain/schemas/host';
import { ReplacedDomain, type AsideMove } from '../hosts/replaced-domain';
import { destinationLockPath } from './destination-lock';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface ReplacedDomainInput {
  destination: HostRef;
  /** The VM being replaced: the clone's new name, whose destination lock this operation holds. */
  vmName: string;
  /** Its files at the clone's final paths, and their aside names. */
  moves: AsideMove[];
}

function replacedDomain(
  deps: ActivityDeps,
  input: Pick<ReplacedDomainInput, 'destination' | 'vmName'>,
  use: (domain: ReplacedDomain) => Promise<void>,
): Promise<void> {
  return withHost(deps, input.destination, (session) =>
    use(new ReplacedDomain(session, input.vmName, destinationLockPath(session.host, input.vmName))),
  );
}

export function setAsideDomain(deps: ActivityDeps) {
  /**
   * Clone with force: takes the old VM out of the way of its replacement without losing
   * it. It is stopped, its definition saved in the destination lock, its files at the
   * clone's paths moved aside and it is undefined (NVRAM and TPM state kept).
   */
  return async function setAsideDomain(
    input: ReplacedDomainInput,
  ): Promise<{ setAside: boolean; wasRunning: boolean }> {
    let outcome = { setAside: false, wasRunning: false };
    await activityBody(() =>
      replacedDomain(deps, input, async (domain) => {
        const aside = await domain.setAside(input.moves);
        if (aside) outcome = { setAside: true, wasRunning: aside.wasRunning };
      }),
    );
    return outcome;
  };
}

export function restoreDomain(deps: ActivityDeps) {
  /** Undoes setAsideDomain: the old VM's files back, its definition back, started if it ran. */
  return async function restoreDomain(input: ReplacedDomainInput): Promise<void> {
    return activityBody(() => replacedDomain(deps, input, (domain) => domain.restore(input.moves)));
  };
}

export function discardReplacedDomain(deps: ActivityDeps) {
  /** The clone is defined: the old VM's TPM state and saved definition go (its files go with removeClone). */
  return async function discardReplacedDomain(
    input: Pick<ReplacedDomainInput, 'destination' | 'vmName'>,
  ): Promise<void> {
    return activityBody(() => replacedDomain(deps, input, (domain) => domain.discard()));
  };
}
