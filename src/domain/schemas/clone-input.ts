import { z } from 'zod';
import { absolutePathSchema, hostRefSchema } from './host';
import { vmNameSchema } from './vm-name';

/** Input of the cloneVM workflow: a plain JSON object, startable from the Temporal UI. */
export const cloneInputSchema = z.object({
  source: hostRefSchema,
  destination: hostRefSchema,
  vmName: vmNameSchema,
  /** Name of the copy; defaults to `<vmName>_clone`. */
  newName: vmNameSchema.optional(),
  /** Directory on the destination for the copied disks; defaults to the host's storage dir. */
  destDir: absolutePathSchema.optional(),
  /** Ranges copied at once, across all disks. */
  parallel: z.number().int().min(1).max(64).default(4),
  /** Compare a digest computed on each host from the bytes on disk. */
  verify: z.boolean().default(true),
  /** Keep the source's MAC addresses (only for a copy that never runs beside its source). */
  preserveMac: z.boolean().default(false),
  /** Start the copy once it is defined. */
  start: z.boolean().default(false),
  /** Seconds before the whole clone gives up and cleans up. */
  timeout: z.number().int().min(1).max(7 * 24 * 3600).default(3600),
});

export type CloneInput = z.input<typeof cloneInputSchema>;
export type CloneOptions = z.output<typeof cloneInputSchema>;
