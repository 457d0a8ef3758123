import { z } from 'zod';
import { hostSpecSchema } from '../domain/schemas/host';
import { cloneInputSchema } from '../domain/schemas/clone-input';

/**
 * A schema field without its default, as optional: config defaults must stay absent when
 * not written, so that a flag, then the config, then the workflow's own default decide.
 */
function optionalWithoutDefault(field: z.ZodType): z.ZodType {
  return (field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : field).optional();
}

// The operation's subject (hosts, VM, new name) and dryRun are per command, never defaults:
// a config that made every clone a dry run would be a trap.
const { source: _source, destination: _destination, vmName: _vmName, newName: _newName, dryRun: _dryRun, ...cloneOptionFields } = cloneInputSchema.shape;

export const cloneDefaultsSchema = z
  .object(Object.fromEntries(Object.entries(cloneOptionFields).map(([key, field]) => [key, optionalWithoutDefault(field as z.ZodType)])))
  .strict();

export type CloneDefaults = Partial<Omit<z.input<typeof cloneInputSchema>, 'source' | 'destination' | 'vmName' | 'newName' | 'dryRun'>>;

/** TLS to the Temporal frontend: `true` for the system's CAs, or files for a private CA and mTLS. */
export const temporalTlsSchema = z.union([
  z.boolean(),
  z
    .object({
      /** Name checked against the server's certificate, when it differs from the address. */
      serverName: z.string().min(1).optional(),
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .strict()
    .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), { message: 'give certFile and keyFile together (mTLS)', path: ['keyFile'] }),
]);

export const temporalConfigSchema = z
  .object({
    address: z.string().min(1).optional(),
    namespace: z.string().min(1).default('default'),
    taskQueue: z.string().min(1).optional(),
    tls: temporalTlsSchema.optional(),
    /** Temporal Cloud API key; KVM_CLONE_TEMPORAL_API_KEY wins, so the file need not hold it. */
    apiKey: z.string().min(1).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    hosts: z.record(z.string(), hostSpecSchema.partial({ port: true, user: true, hostKeyPolicy: true, libvirtUri: true, storageDir: true }).strict()).default({}),
    temporal: temporalConfigSchema.default({ namespace: 'default' }),
    defaults: z
      .object({
        clone: cloneDefaultsSchema.default({}),
        // Filled in with the sync workflow's options; until then any mapping is kept as it is.
        sync: z.object({}).loose().default({}),
      })
      .strict()
      .default({ clone: {}, sync: {} }),
  })
  .strict();

export type KvmCloneConfig = Omit<z.output<typeof configSchema>, 'defaults'> & {
  defaults: { clone: CloneDefaults; sync: Record<string, unknown> };
};
export type TemporalConfig = KvmCloneConfig['temporal'];
export type TemporalTls = z.output<typeof temporalTlsSchema>;
