import { ErrorCode, KvmCloneError } from '../errors';
import { hostSpecSchema, type HostRef, type HostSpec, type HostSpecInput } from '../domain/schemas/host';
import { validate } from '../domain/schemas/validate';
import { DEFAULT_WORKER_POLICY, type WorkerPolicy } from '../domain/schemas/worker-policy';

/**
 * Resolves the hosts named in workflow inputs. An alias comes from the worker's
 * configuration, so the workflow history holds names, not key paths of one machine, and
 * whoever starts a workflow can only name hosts the operator configured.
 */
export class HostRegistry {
  constructor(
    private readonly aliases: Readonly<Record<string, HostSpecInput>> = {},
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
    const spec = this.aliases[ref];
    if (!spec) {
      const known = Object.keys(this.aliases);
      throw new KvmCloneError(ErrorCode.INVALID_HOST, `unknown host alias '${ref}'${known.length ? ` (configured: ${known.join(', ')})` : ' (no hosts are configured on this worker)'}`, {
        alias: ref,
      });
    }
    return validate(hostSpecSchema, spec, `host '${ref}'`);
  }
}

function describeInline(ref: unknown): string {
  const host = ref as { user?: unknown; address?: unknown };
  return `${typeof host.user === 'string' ? `${host.user}@` : ''}${typeof host.address === 'string' ? host.address : '?'}`;
}
