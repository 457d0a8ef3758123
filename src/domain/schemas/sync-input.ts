import { z } from 'zod';
import { bandwidthLimitSchema } from './bandwidth';
import { directRouteSchema } from './direct-route';
import { notifySchema } from './notify';
import { hostRefSchema } from './host';
import { vmNameSchema } from './vm-name';

/** Input of the syncVM workflow: a plain JSON object, startable from the Temporal UI. */
export const syncInputSchema = z.object({
  source: hostRefSchema,
  destination: hostRefSchema,
  vmName: vmNameSchema,
  /** The copy on the destination to update; defaults to the source's name. */
  targetName: vmNameSchema.optional(),
  /** Send only blocks that differ; false clears and re-copies every disk. */
  deltaOnly: z.boolean().default(true),
  /** Track changes with libvirt checkpoints (dirty bitmaps) on a running source. */
  checkpoint: z.boolean().default(false),
  /** Ranges synced at once, across all disks. */
  parallel: z.number().int().min(1).max(64).default(4),
  compress: z.boolean().default(false),
  /** Compare a strong digest of every range and disk on both hosts after the sync. */
  verify: z.boolean().default(true),
  /** Give the target the source's MAC addresses instead of keeping its own. */
  preserveMac: z.boolean().default(false),
  bandwidthLimit: bandwidthLimitSchema.optional(),
  /** Push data from the source host straight to the destination over the source's own SSH (how it gets there). */
  direct: directRouteSchema.optional(),
  /** Webhooks told how the operation ended (success, failure, cancellation); a failed notification is only a warning. */
  notify: notifySchema.optional(),
  /** Seconds before the sync gives up; the target stays marked incomplete. */
  timeout: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(7200),
});

export type SyncInput = z.input<typeof syncInputSchema>;
export type SyncOptions = z.output<typeof syncInputSchema>;
