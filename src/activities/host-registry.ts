import { ErrorCode, KvmCloneError } from '../errors';
import { directRouteSchema, type DirectRoute, type DirectRouteInput } from '../domain/schemas/direct-route';
import { hostSpecSchema, type HostRef, type HostSpec, type HostSpecInput } from '../domain/schemas/host';
import { validate } from '../domain/schemas/validate';
import { DEFAULT_WORKER_POLICY, type WorkerPolicy } from '../domain/schemas/worker-policy';

/** A configured host: how the worker reaches it, and how it reaches other aliases directly. */
export type HostAliasInput = HostSpecInput & { direct?: Record<string, DirectRouteInput> };

/**
 * Resolves the hosts named in workflow inputs. An alias comes from the worker's
 * configuration, so the workflow history holds names, not key paths of one machine, and
 * whoever starts a workflow can only name hosts the operator configured.
 */
export class HostRegistry {
  constructor(
    private readonly aliases: Readonly<Record<string, HostAliasInput>> = {},
    private readonly policy: Pick<WorkerPolicy, 'inlineHosts'> = DEFAULT_WORKER_POLICY,
  ) {}

  resolve(ref: HostRef): HostSpec {
    if (typeof ref !== 'string') {
      if (!this.policy.inlineHosts) {
        throw new KvmCloneError(
          ErrorCode.INVALID_HOST,
          `a host given as an object (${describeInline(ref)}) is refused: this worker takes only host aliases from its config (policy.inlineHosts is off)`,
          { host: describeInline(ref) },
        );
      }
      return validate(hostSpecSchema, ref, 'host');
    }
    const spec = Object.hasOwn(this.aliases, ref) ? this.aliases[ref] : undefined;
    if (!spec) {
      const known = Object.keys(this.aliases);
      throw new KvmCloneError(
        ErrorCode.INVALID_HOST,
        `unknown host alias '${ref}'${known.length ? ` (configured: ${known.join(', ')})` : ' (no hosts are configured on this worker)'}`,
        {
          alias: ref,
        },
      );
    }
    return validate(hostSpecSchema, spec, `host '${ref}'`);
  }

  /**
   * How the source host reaches the destination for a direct push:
   * `hosts.<source>.direct.<destination>` in the worker's config, and nowhere else. A
   * workflow input only asks for direct mode; were it to give the route, it would point
   * the source's own SSH, with the source's keys, at an address of its choice.
   */
  directRoute(source: HostRef, destination: HostRef): DirectRoute {
    if (typeof source !== 'string' || typeof destination !== 'string') {
      throw new KvmCloneError(
        ErrorCode.CONFIGURATION_ERROR,
        'direct mode needs both hosts as aliases: direct routes are configured as hosts.<source>.direct.<destination> on the worker',
        {
          source: typeof source === 'string' ? source : describeInline(source),
          destination: typeof destination === 'string' ? destination : describeInline(destination),
        },
      );
    }
    this.resolve(source);
    this.resolve(destination);
    const routes = this.aliases[source]!.direct ?? {};
    const route = Object.hasOwn(routes, destination) ? routes[destination] : undefined;
    if (!route) {
      throw new KvmCloneError(
        ErrorCode.CONFIGURATION_ERROR,
        `direct mode from '${source}' to '${destination}': this worker has no route hosts.${source}.direct.${destination} in its config (configure it, or run without direct to relay)`,
        { source, destination },
      );
    }
    return validate(directRouteSchema, route, `direct route ${source} → ${destination}`);
  }
}

function describeInline(ref: unknown): string {
  const host = ref as { user?: unknown; address?: unknown };
  return `${typeof host.user === 'string' ? `${host.user}@` : ''}${typeof host.address === 'string' ? host.address : '?'}`;
}
