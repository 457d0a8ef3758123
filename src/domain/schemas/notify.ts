import { z } from 'zod';

/** The ends of an operation a webhook can be told about. */
export const NOTIFICATION_EVENTS = ['success', 'failure', 'cancelled'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

const webhookUrlSchema = z
  .string()
  .url('not a URL')
  .refine((url) => /^https?:\/\//i.test(url), 'only http and https webhooks are supported');

/** Environment variable names as a shell would accept them. */
const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name');

/**
 * One webhook. A `secret` is written into the workflow's input and so into Temporal's
 * history; `secretEnv` names a variable the worker reads instead, which keeps it out.
 */
export const webhookSchema = z
  .object({
    url: webhookUrlSchema,
    secret: z.string().min(1).optional(),
    secretEnv: envNameSchema.optional(),
    events: z
      .array(z.enum(NOTIFICATION_EVENTS))
      .min(1)
      .default([...NOTIFICATION_EVENTS]),
    /** `json`: the full document; `slack`: `{ "text": … }`, which Slack and Teams incoming webhooks take. */
    format: z.enum(['json', 'slack']).default('json'),
  })
  .strict()
  .refine((webhook) => !(webhook.secret && webhook.secretEnv), { message: 'give secret or secretEnv, not both', path: ['secretEnv'] });

/** Where an operation reports how it ended; part of the cloneVM and syncVM inputs. */
export const notifySchema = z.object({ webhooks: z.array(webhookSchema).max(20).default([]) }).strict();

export type Webhook = z.output<typeof webhookSchema>;
export type WebhookInput = z.input<typeof webhookSchema>;
export type Notify = z.output<typeof notifySchema>;
export type NotifyInput = z.input<typeof notifySchema>;
