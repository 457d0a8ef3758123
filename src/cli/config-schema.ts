import { z } from 'zod';
import { hostSpecSchema } from '../domain/schemas/host';
import { cloneInputSchema } from '../domain/schemas/clone-input';
import { directRouteSchema } from '../domain/schemas/direct-route';
import { syncInputSchema } from '../domain/schemas/sync-input';
import { configuredWebhookSchema, webhookNameSchema, type ConfiguredWebhook } from '../domain/schemas/notify';
import { workerPolicySchema } from '../domain/schemas/worker-policy';

/**
 * A schema field without its default, as optional: config defaults must stay absent when
 * not written, so that a flag, then the config, then the workflow's own default decide.
 */
function optionalWithoutDefault(field: z.ZodType): z.ZodType {
  return (field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : field).optional();
}

/** An operation's option fields as a strict schema of optional config defaults. */
function defaultsSchemaOf(fields: Record<string, unknown>): z.ZodObject {
  return z
    .object(
      Object.fromEntries(
        Object.entries(fields).map(([key, field]) => [key, optionalWithoutDefault(field as z.ZodType)]),
      ),
    )
    .strict();
}

// The operation's subject (hosts, VM, new name) and dryRun are per command, never defaults:
// a config that made every clone a dry run would be a trap. A direct route belongs to a
// pair of hosts (hosts.<source>.direct.<destination>), and webhooks to `notifications`.
const {
  source: _source,
  destination: _destination,
  vmName: _vmName,
  newName: _newName,
  dryRun: _dryRun,
  direct: _direct,
  notify: _notify,
  ...cloneOptionFields
} = cloneInputSchema.shape;
const {
  source: _s,
  destination: _d,
  vmName: _v,
  targetName: _t,
  direct: _r,
  notify: _n,
  ...syncOptionFields
} = syncInputSchema.shape;

export const cloneDefaultsSchema = defaultsSchemaOf(cloneOptionFields);
export const syncDefaultsSchema = defaultsSchemaOf(syncOptionFields);

export type CloneDefaults = Partial<
  Omit<
    z.input<typeof cloneInputSchema>,
    'source' | 'destination' | 'vmName' | 'newName' | 'dryRun' | 'direct' | 'notify'
  >
>;
export type SyncDefaults = Partial<
  Omit<z.input<typeof syncInputSchema>, 'source' | 'destination' | 'vmName' | 'targetName' | 'direct' | 'notify'>
>;

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
    .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
      message: 'give certFile and keyFile together (mTLS)',
      path: ['keyFile'],
    }),
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

/** Settings of `kvm-clone worker`; a flag or env var (KVM_CLONE_METRICS_ADDRESS, KVM_CLONE_LOG_FORMAT) wins. */
export const workerConfigSchema = z
  .object({
    /** host:port where the worker serves the Temporal SDK's metrics for Prometheus (`/metrics`). */
    metricsAddress: z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected host:port, e.g. 0.0.0.0:9464')
      .optional(),
    /** `json`: one JSON object per log line, with the operation id; `text`: the SDK's format. */
    logFormat: z.enum(['text', 'json']).optional(),
  })
  .strict();

/**
 * A configured host: how the worker reaches it, where clones may write on it (writableDirs,
 * storagePools), and how it reaches others directly (by destination alias). The worker
 * takes direct routes from here only; a workflow input just asks for direct mode.
 */
export const hostConfigSchema = hostSpecSchema
  .partial({ port: true, user: true, hostKeyPolicy: true, libvirtUri: true, storageDir: true })
  .extend({ direct: z.record(z.string(), directRouteSchema).optional() })
  .strict();

/**
 * One entry of notifications.webhooks: the name of a webhook under `webhooks:`, or (the
 * older form) a webhook written in place, which is then named `notifications-<n>` (its
 * 1-based position). Either way operations name it, so its URL and secret stay in the config.
 */
const notificationWebhookSchema = z.unknown().transform((value, context): string | ConfiguredWebhook => {
  const result =
    typeof value === 'string' ? webhookNameSchema.safeParse(value) : configuredWebhookSchema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    // An unknown key is reported at the key itself, where the typo is (as for every section).
    const key = issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [];
    context.addIssue({ code: 'custom', message: issue.message, path: [...issue.path, ...key] });
  }
  return z.NEVER;
});

/** The name a webhook written in place in notifications.webhooks gets, by its index. */
export function implicitWebhookName(index: number): string {
  return `notifications-${index + 1}`;
}

export const configSchema = z
  .object({
    hosts: z.record(z.string(), hostConfigSchema).default({}),
    temporal: temporalConfigSchema.default({ namespace: 'default' }),
    defaults: z
      .object({
        clone: cloneDefaultsSchema.default({}),
        sync: syncDefaultsSchema.default({}),
      })
      .strict()
      .default({ clone: {}, sync: {} }),
    worker: workerConfigSchema.optional(),
    /**
     * What the worker lets a workflow input ask for (inline hosts, ad-hoc webhook URLs,
     * host-reaching devices, host files). Read by the worker only; absent: the defaults.
     */
    policy: workerPolicySchema.optional(),
    /** Webhooks by name, with their URL and secret: inputs name them (`{ name }`), so neither reaches Temporal. */
    webhooks: z.record(webhookNameSchema, configuredWebhookSchema).default({}),
    /** Webhooks every operation started from the CLI notifies, besides its own: names of `webhooks:` entries. */
    notifications: z
      .object({ webhooks: z.array(notificationWebhookSchema).default([]) })
      .strict()
      .default({ webhooks: [] }),
  })
  .strict()
  .superRefine((config, context) => {
    config.notifications.webhooks.forEach((entry, index) => {
      if (typeof entry === 'string' && !Object.hasOwn(config.webhooks, entry)) {
        context.addIssue({
          code: 'custom',
          message: `no webhook '${entry}' under webhooks:`,
          path: ['notifications', 'webhooks', index],
        });
      }
      if (typeof entry !== 'string' && Object.hasOwn(config.webhooks, implicitWebhookName(index))) {
        context.addIssue({
          code: 'custom',
          message: `this webhook is named ${implicitWebhookName(index)} by its place, which webhooks.${implicitWebhookName(index)} already is: move it under webhooks: and list its name here`,
          path: ['notifications', 'webhooks', index],
        });
      }
    });
  });

export type KvmCloneConfig = Omit<z.output<typeof configSchema>, 'defaults'> & {
  defaults: { clone: CloneDefaults; sync: SyncDefaults };
};
export type TemporalConfig = KvmCloneConfig['temporal'];
export type TemporalTls = z.output<typeof temporalTlsSchema>;
