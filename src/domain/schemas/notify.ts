import { z } from 'zod';

/** The ends of an operation a webhook can be told about. */
export const NOTIFICATION_EVENTS = ['success', 'failure', 'cancelled'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export const webhookUrlSchema = z
  .string()
  .url('not a URL')
  .refine((url) => /^https?:\/\//i.test(url), 'only http and https webhooks are supported');

/** Environment variable names as a shell would accept them. */
const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name');

/** The name of a webhook configured on the worker (`webhooks.<name>` in its config). */
export const webhookNameSchema = z
  .string()
  .min(1, 'webhook name is empty')
  .max(64)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'not a webhook name (letters, digits, _ . -)');

const webhookEventsSchema = z.array(z.enum(NOTIFICATION_EVENTS)).min(1);

/** `json`: the full document; `slack`: `{ "text": … }`, which Slack and Teams incoming webhooks take. */
const webhookFormatSchema = z.enum(['json', 'slack']).default('json');

/**
 * A webhook as the operator configures it on the worker (`webhooks.<name>`). Its URL and
 * secret stay in the worker's config: workflow inputs name it, so neither reaches
 * Temporal's history. `secretEnv` names a variable of the worker's environment.
 */
export const configuredWebhookSchema = z
  .object({
    url: webhookUrlSchema,
    secret: z.string().min(1).optional(),
    secretEnv: envNameSchema.optional(),
    events: webhookEventsSchema.default([...NOTIFICATION_EVENTS]),
    format: webhookFormatSchema,
  })
  .strict()
  .refine((webhook) => !(webhook.secret && webhook.secretEnv), {
    message: 'give secret or secretEnv, not both',
    path: ['secretEnv'],
  });

export type ConfiguredWebhook = z.output<typeof configuredWebhookSchema>;
export type ConfiguredWebhookInput = z.input<typeof configuredWebhookSchema>;

const SECRET_IN_INPUT =
  "a webhook secret is never taken from a workflow input (Temporal's history would keep it): configure a named webhook on the worker (webhooks.<name> with secret or secretEnv in its config) and give { name: '<name>' }";

/** A webhook configured on the worker, by name: its URL, secret, events and format are the worker's. */
export interface NamedWebhookRef {
  name: string;
}

/** An ad-hoc webhook: its URL must start with one of the worker's policy.webhookUrls, and it is never signed. */
export interface AdHocWebhook {
  url: string;
  events: NotificationEvent[];
  format: 'json' | 'slack';
}

export type Webhook = NamedWebhookRef | AdHocWebhook;
export type WebhookInput = { name: string } | { url: string; events?: NotificationEvent[]; format?: 'json' | 'slack' };

/**
 * One webhook of a workflow input: `{ name }`, or `{ url, events?, format? }`. A secret
 * (or the name of a worker's environment variable holding one) is refused with the way
 * to do it instead: any variable of the worker, its Temporal API key included, could
 * otherwise be named, and a secret written here would be kept in the history.
 */
export const webhookSchema = z
  .object({
    name: webhookNameSchema.optional(),
    url: webhookUrlSchema.optional(),
    events: webhookEventsSchema.optional(),
    format: z.enum(['json', 'slack']).optional(),
    secret: z.never({ error: SECRET_IN_INPUT }).optional(),
    secretEnv: z.never({ error: SECRET_IN_INPUT }).optional(),
  })
  .strict()
  .superRefine((entry, context) => {
    if (entry.name === undefined && entry.url === undefined) {
      context.addIssue({
        code: 'custom',
        message: 'give name (a webhook configured on the worker) or url (an ad-hoc webhook)',
        path: ['url'],
      });
    } else if (entry.name !== undefined && entry.url !== undefined) {
      context.addIssue({
        code: 'custom',
        message: 'give name (a webhook configured on the worker) or url, not both',
        path: ['url'],
      });
    } else if (entry.name !== undefined && (entry.events !== undefined || entry.format !== undefined)) {
      context.addIssue({
        code: 'custom',
        message: "a named webhook's events and format are set in the worker's config",
        path: [entry.events !== undefined ? 'events' : 'format'],
      });
    }
  })
  .transform((entry): Webhook =>
    entry.name !== undefined
      ? { name: entry.name }
      : { url: entry.url!, events: entry.events ?? [...NOTIFICATION_EVENTS], format: entry.format ?? 'json' },
  );

/** Where an operation reports how it ended; part of the cloneVM and syncVM inputs. */
export const notifySchema = z.object({ webhooks: z.array(webhookSchema).max(20).default([]) }).strict();

export type Notify = z.output<typeof notifySchema>;
export type NotifyInput = { webhooks?: WebhookInput[] };

export function isNamedWebhook(webhook: Webhook): webhook is NamedWebhookRef {
  return 'name' in webhook;
}
