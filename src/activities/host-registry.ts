import { ErrorCode, KvmCloneError } from '../errors';
import { directRouteSchema, type DirectRoute, type DirectRouteInput } from '../domain/schemas/direct-route';
import {
  hostSpecSchema,
  parseHostReference,
  type HostRef,
  type HostSpec,
  type HostSpecInput,
} from '../domain/schemas/host';
import { validate } from '../domain/schemas/validate';
import { DEFAULT_WORKER_POLICY, type WorkerPolicy } from '../domain/schemas/worker-policy';
import { resolveSshHost, type ReferenceDefaults } from '../hosts/ssh-config';
import { workerSshEnvironment, type SshConfigEnvironment } from '../hosts/ssh-config-files';

/** A configured host: how the worker reaches it, and how it reaches other aliases directly. */
export type HostAliasInput = HostSpecInput & { direct?: Record<string, DirectRouteInput> };

/**
 * Resolves the hosts named in workflow inputs. An alias comes from the worker's
 * configuration, so the workflow history holds names, not key paths of one machine, and
 * whoever starts a workflow can only name hosts the operator configured. Under
 * policy.hostReferences, a name that is no alias is resolved as OpenSSH would resolve it
 * for the worker's user: with its ~/.ssh/config, keys and known_hosts.
 */
export class HostRegistry {
  constructor(
    private readonly aliases: Readonly<Record<string, HostAliasInput>> = {},
    private readonly policy: Pick<WorkerPolicy, 'inlineHosts' | 'hostReferences'> = DEFAULT_WORKER_POLICY,
    /** Where references are resolved; read at each resolution, so an edit of ~/.ssh/config needs no restart. */
    private readonly ssh: () => SshConfigEnvironment = () => workerSshEnvironment(),
    /**
     * The key and port of the CLI's `-k`/`--ssh-port`, for references only: an alias keeps what the config says.
     * Only a worker inside a CLI command has them; they never come from a workflow input.
     */
    private readonly referenceDefaults: ReferenceDefaults = {},
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
    // An alias wins over a reference of the same name: the operator named it on purpose.
    const spec = this.isAlias(ref) ? this.aliases[ref] : undefined;
    if (spec) return validate(hostSpecSchema, spec, `host '${ref}'`);
    if (!this.policy.hostReferences) throw this.unknownAlias(ref);
    const reference = parseHostReference(ref);
    if ('error' in reference) {
      throw new KvmCloneError(
        ErrorCode.INVALID_HOST,
        `host '${ref}' is neither a configured alias nor a [user@]host[:port] or ssh://[user@]host[:port] reference: ${reference.error}`,
        { host: ref },
      );
    }
    return resolveSshHost(reference, this.ssh(), this.referenceDefaults);
  }

  private isAlias(ref: string): boolean {
    return Object.hasOwn(this.aliases, ref);
  }

  private unknownAlias(ref: string): KvmCloneError {
    const known = Object.keys(this.aliases);
    return new KvmCloneError(
      ErrorCode.INVALID_HOST,
      `unknown host alias '${ref}'${known.length ? ` (configured: ${known.join(', ')})` : ' (no hosts are configured on this worker)'}; this worker resolves no other host names (policy.hostReferences is off)`,
      { alias: ref },
    );
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
    // A host reference has no routes: they are configured per pair of aliases, and the
    // worker's ssh_config says how the worker reaches a host, not how the source does.
    if (!this.isAlias(source) || !this.isAlias(destination)) {
      throw new KvmCloneError(
        ErrorCode.CONFIGURATION_ERROR,
        `direct mode from '${source}' to '${destination}' needs both hosts as aliases of this worker's config, with a route hosts.<source>.direct.<destination>; host references are relayed (run without direct)`,
        { source, destination },
      );
    }
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
