import { ErrorCode, KvmCloneError } from '../errors';
import { hostSpecSchema, type HostRef, type HostSpec, type HostSpecInput } from '../domain/schemas/host';
import { validate } from '../domain/schemas/validate';

/**
 * Resolves the hosts named in workflow inputs. An alias comes from the worker's
 * configuration, so the workflow history holds names, not key paths of one machine.
 */
export class HostRegistry {
  constructor(private readonly aliases: Readonly<Record<string, HostSpecInput>> = {}) {}

  resolve(ref: HostRef): HostSpec {
    if (typeof ref !== 'string') return validate(hostSpecSchema, ref, 'host');
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
