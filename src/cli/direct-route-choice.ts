import type { DirectRoute } from '../domain/schemas/direct-route';
import type { KvmCloneConfig } from './config-schema';

/**
 * The configured route from one host alias to another (`hosts.<source>.direct.<destination>`),
 * unless --relay asks for the worker to carry the data. Without a route, data is relayed.
 */
export function directRouteFor(config: Pick<KvmCloneConfig, 'hosts'>, source: string, destination: string, relay = false): DirectRoute | undefined {
  if (relay) return undefined;
  return config.hosts[source]?.direct?.[destination];
}
