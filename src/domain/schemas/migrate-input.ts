import { z } from 'zod';
import { dataPathFields, operationSubjectFields, timeoutField } from './data-path-options';
import { absolutePathSchema } from './host';
import { vmNameSchema } from './vm-name';

/** A moment for the cutover: ISO 8601 with a time zone, so a worker in another zone reads the same instant. */
export const cutoverTimeSchema = z.iso.datetime({ offset: true, error: 'not an ISO 8601 time with a zone' });

/**
 * Input of the migrateVM workflow: a plain JSON object, startable from the Temporal UI.
 * Strict: an unknown key is refused by name.
 */
export const migrateInputSchema = z.strictObject({
  ...operationSubjectFields,
  /** Name of the VM on the destination; defaults to the source's. */
  newName: vmNameSchema.optional(),
  /** Directory on the destination for the disks; defaults to the host's storage dir. */
  destDir: absolutePathSchema.optional(),
  /**
   * warm: a live copy, syncs of what changed, and a short pause to send the rest (any two
   * hosts the worker reaches). live: libvirt's own live migration from the source's libvirt
   * to the destination's, over the direct route hosts.<source>.direct.<destination>.
   */
  mode: z.enum(['warm', 'live']).default('warm'),
  /** Seconds the VM may be down at the cutover: syncs repeat until the last one took no longer. */
  maxDowntime: z.number().min(1).max(3600).default(10),
  /** Sync passes before the cutover at most; a migration that needs more fails and leaves the source running. */
  maxPasses: z.number().int().min(1).max(50).default(8),
  /** Not before this time (ISO 8601): the copy is kept in step until then. A `cutover` signal moves it. */
  cutoverAt: cutoverTimeSchema.optional(),
  /** Wait for a `cutover` signal before the cutover, keeping the copy in step meanwhile. */
  holdCutover: z.boolean().default(false),
  /** Seconds between syncs while the cutover waits for its time or signal. */
  syncInterval: z
    .number()
    .int()
    .min(5)
    .max(24 * 3600)
    .default(60),
  /** Keep the source defined (stopped, autostart off) instead of undefining it; its files are kept either way. */
  keepSource: z.boolean().default(false),
  ...dataPathFields,
  /** Seconds before the whole migration, waiting included, gives up and leaves the source running. */
  timeout: timeoutField(24 * 3600),
});

export type MigrateInput = z.input<typeof migrateInputSchema>;
export type MigrateOptions = z.output<typeof migrateInputSchema>;
