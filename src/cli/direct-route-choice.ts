import type { KvmCloneConfig } from './config-schema';

/**
 * Whether to ask for direct mode: when the config has a route from one host alias to the
 * other (`hosts.<source>.direct.<destination>`), unless --relay asks for the worker to
 * carry the data. Only `true` goes into the input: the worker reads the route from its
 * own config (for `kvm-clone worker` with the same file, the same route).
 */
export function directRouteFor(
  config: Pick<KvmCloneConfig, 'hosts'>,
  source: string,
  destination: string,
  relay = false,
): boolean {
  if (relay) return false;
  const routes = Object.hasOwn(config.hosts, source) ? config.hosts[source]!.direct : undefined;
  return routes !== undefined && Object.hasOwn(routes, destination);
}
