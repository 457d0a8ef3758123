import { z } from 'zod';
import { bandwidthLimitSchema } from './bandwidth';
import { hostRefSchema } from './host';
import { notifySchema } from './notify';
import { vmNameSchema } from './vm-name';

/** What every operation names: the two hosts and the VM on the source. */
export const operationSubjectFields = {
  source: hostRefSchema,
  destination: hostRefSchema,
  vmName: vmNameSchema,
};

/** How data moves, the same for a clone and a sync. */
export const dataPathFields = {
  /** Ranges copied at once, across all disks. */
  parallel: z.number().int().min(1).max(64).default(4),
  /** Compress on the wire with zstd (or lz4) when both hosts have it. */
  compress: z.boolean().default(false),
  /** Compare SHA-256 digests computed on each host from the bytes on disk, per range and per file. */
  verify: z.boolean().default(true),
  /** Cap on the whole operation's wire rate, e.g. '100M' per second; absent means none. */
  bandwidthLimit: bandwidthLimitSchema.optional(),
  /**
   * Push data from the source host straight to the destination over the source's own SSH.
   * Only a yes or no: the route (address, user, the source's key) is the worker's config,
   * `hosts.<source>.direct.<destination>`, so an input cannot point the source's SSH
   * anywhere. `true` without a configured route fails with 1001 at the first copy (the
   * copy is then cleaned up like any failed one); a dry run reports `transport: direct`.
   */
  direct: z
    .boolean({
      error: (issue) =>
        issue.input !== null && typeof issue.input === 'object'
          ? 'direct is true or false: the route itself (address, user, keys) is configured on the worker as hosts.<source>.direct.<destination>, never given in the input'
          : 'expected true or false',
    })
    .optional(),
  /**
   * Webhooks told how the operation ended (success, failure, cancellation); a failed notification is only a warning.
   */
  notify: notifySchema.optional(),
};

/** Seconds before an operation gives up and unwinds. */
export function timeoutField(defaultSeconds: number) {
  return z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(defaultSeconds);
}
