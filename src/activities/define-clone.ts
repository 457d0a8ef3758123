import { rewriteDomainForClone, type CloneRewrite } from '../domain/domain-xml';
import type { HostRef } from '../domain/schemas/host';
import { Libvirt } from '../hosts/libvirt';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface DefineCloneInput {
  destination: HostRef;
  sourceXml: string;
  rewrite: CloneRewrite;
  start: boolean;
  /** Update a domain that already exists (a sync target) instead of leaving it be. */
  redefine?: boolean;
}

export function defineClone(deps: ActivityDeps) {
  /** Defines the clone on the destination from the source's rewritten XML, and starts it if asked. */
  return async function defineClone(input: DefineCloneInput): Promise<{ xml: string }> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const xml = rewriteDomainForClone(input.sourceXml, input.rewrite);
        const libvirt = new Libvirt(session);
        // A retry after a define whose reply was lost finds the domain already there.
        if (input.redefine || (await libvirt.domainState(input.rewrite.newName)) === undefined) await libvirt.define(xml);
        if (input.start && (await libvirt.domainState(input.rewrite.newName)) !== 'running') await libvirt.start(input.rewrite.newName);
        return { xml };
      }),
    );
  };
}
