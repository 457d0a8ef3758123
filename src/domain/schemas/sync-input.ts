import { z } from 'zod';
import { dataPathFields, operationSubjectFields, timeoutField } from './data-path-options';
import { vmNameSchema } from './vm-name';

/**
 * Input of the syncVM workflow: a plain JSON object, startable from the Temporal UI.
 * Strict: an unknown key is refused by name, so a typo (`deltaonly: false`) is not ignored.
 */
export const syncInputSchema = z.strictObject({
  ...operationSubjectFields,
  /** The copy on the destination to update; defaults to the source's name. */
  targetName: vmNameSchema.optional(),
  /** Send only blocks that differ; false clears and re-copies every disk. */
  deltaOnly: z.boolean().default(true),
  /** Track changes with libvirt checkpoints (dirty bitmaps) on a running source. */
  checkpoint: z.boolean().default(false),
  /**
   * With checkpoints, still check whole files with SHA-256 on both hosts (reading every
   * block), not only the ranges the sync wrote or compared; tiles with a difference the
   * bitmap missed are then copied again. Worth running now and then, e.g. weekly.
   */
  fullVerify: z.boolean().default(false),
  ...dataPathFields,
  /** Give the target the source's MAC addresses instead of keeping its own. */
  preserveMac: z.boolean().default(false),
  /** Seconds before the sync gives up; the target stays marked incomplete. */
  timeout: timeoutField(7200),
});

export type SyncInput = z.input<typeof syncInputSchema>;
export type SyncOptions = z.output<typeof syncInputSchema>;
