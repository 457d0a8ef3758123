import { z } from 'zod';
import { dataPathFields, operationSubjectFields, timeoutField } from './data-path-options';
import { absolutePathSchema } from './host';
import { vmNameSchema } from './vm-name';

/** Names of libvirt networks and host bridges, as the network map holds them. */
const networkNameSchema = z
  .string()
  .min(1, 'network name is empty')
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'not a valid network or bridge name');

const diskTargetSchema = z.string().regex(/^[a-z]{2,3}[a-z]{1,3}$/, 'not a disk target such as vda or sdb');

const storagePoolNameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.-]+$/, 'not a valid storage pool name');

/**
 * Input of the cloneVM workflow: a plain JSON object, startable from the Temporal UI.
 * Strict: an unknown key is refused by name, so a typo (`dryrun: true`) cannot run a real clone.
 */
export const cloneInputSchema = z
  .object({
    ...operationSubjectFields,
    /** Name of the copy; defaults to `<vmName>_clone`. */
    newName: vmNameSchema.optional(),
    /** Directory on the destination for the copied disks; defaults to the host's storage dir. */
    destDir: absolutePathSchema.optional(),
    /** A directory-type libvirt storage pool on the destination to put the disks in, as volumes. */
    destPool: storagePoolNameSchema.optional(),
    /** Replace a destination VM of the same name, but only once the new copy is verified. */
    force: z.boolean().default(false),
    /** Return the plan and change nothing on either host. */
    dryRun: z.boolean().default(false),
    ...dataPathFields,
    /** Keep the source's MAC addresses (only for a copy that never runs beside its source). */
    preserveMac: z.boolean().default(false),
    /** Give the copy the source's UUID: only for a copy that replaces its source (a migration), never one beside it. */
    keepUuid: z.boolean().default(false),
    /** Seconds before the whole clone gives up and cleans up. */
    timeout: timeoutField(3600),
    /** Start the copy once it is defined. */
    start: z.boolean().default(false),
    /** Source network or bridge name → the destination's. */
    networkMap: z.record(networkNameSchema, networkNameSchema).default({}),
    /** Copy CD-ROM images too, instead of referencing the same path on the destination. */
    copyCdroms: z.boolean().default(false),
    /** Disk targets left out of the clone (e.g. a network disk the copy cannot take). */
    excludeDisks: z.array(diskTargetSchema).default([]),
    /** Merge a qcow2 backing chain into one image on the destination instead of copying its layers. */
    flattenBackingChain: z.boolean().default(false),
  })
  .strict()
  .refine((input) => !(input.destDir && input.destPool), {
    message: 'give destDir or destPool, not both',
    path: ['destPool'],
  });

export type CloneInput = z.input<typeof cloneInputSchema>;
export type CloneOptions = z.output<typeof cloneInputSchema>;
