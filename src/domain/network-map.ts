import type { DomainInterface, DomainSummary } from './domain-model';
import { lookup } from './record-lookup';

/**
 * What an interface connects to on the host: a libvirt network (`virsh net-info`) or a
 * host bridge (`/sys/class/net/<name>/bridge`).
 */
export type NetworkKind = 'network' | 'bridge';

export interface RequiredNetwork {
  kind: NetworkKind;
  name: string;
}

/** Source network or bridge name, to destination name. Unmapped names stay as they are. */
export type NetworkMap = Readonly<Record<string, string>>;

/**
 * The host-side network an interface needs, as named on the source. `user` interfaces
 * need nothing; `direct`, `hostdev` and others are the host's business, not a name we map.
 */
export function networkOf(iface: DomainInterface): RequiredNetwork | undefined {
  if ((iface.type === 'network' || iface.type === 'bridge') && iface.source !== undefined)
    return { kind: iface.type, name: iface.source };
  return undefined;
}

export function mappedNetworkName(name: string, networkMap: NetworkMap | undefined): string {
  return lookup(networkMap, name) ?? name;
}

/** The distinct networks and bridges the destination must have for the clone, after mapping. */
export function requiredNetworks(
  summary: Pick<DomainSummary, 'interfaces'>,
  networkMap?: NetworkMap,
): RequiredNetwork[] {
  const required = new Map<string, RequiredNetwork>();
  for (const iface of summary.interfaces) {
    const network = networkOf(iface);
    if (!network) continue;
    const name = mappedNetworkName(network.name, networkMap);
    required.set(`${network.kind}\u0000${name}`, { kind: network.kind, name });
  }
  return [...required.values()];
}

/**
 * Map keys that name no interface's network or bridge: most likely a typo, which the
 * caller should warn about rather than let the clone land on an unintended network.
 */
export function unusedNetworkMapEntries(summary: Pick<DomainSummary, 'interfaces'>, networkMap?: NetworkMap): string[] {
  const used = new Set(summary.interfaces.flatMap((iface) => networkOf(iface)?.name ?? []));
  return Object.keys(networkMap ?? {}).filter((name) => !used.has(name));
}
