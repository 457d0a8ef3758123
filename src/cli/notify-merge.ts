import type { ConfiguredWebhook, NotifyInput, WebhookInput } from '../domain/schemas/notify';
import { implicitWebhookName, type KvmCloneConfig } from './config-schema';

/**
 * Every webhook the config defines, by name: those under `webhooks:`, and those written in
 * place in notifications.webhooks (the older form) under their implicit names. A worker
 * started with this config resolves these names; the CLI sends only the names.
 */
export function configuredWebhooks(
  config: Pick<KvmCloneConfig, 'webhooks' | 'notifications'>,
): Record<string, ConfiguredWebhook> {
  const inPlace = config.notifications.webhooks.flatMap((entry, index) =>
    typeof entry === 'string' ? [] : [[implicitWebhookName(index), entry] as const],
  );
  return { ...config.webhooks, ...Object.fromEntries(inPlace) };
}

/**
 * The webhooks an operation started from the CLI notifies: the config's global ones by
 * name, then those given for this operation (--notify URL), which the worker calls only
 * when they are under its policy.webhookUrls. No secret is ever put into the input.
 * Absent when there are none, so inputs stay as small as before for users without notifications.
 */
export function notifyInputFor(
  config: Pick<KvmCloneConfig, 'notifications'>,
  urls: readonly string[] = [],
): NotifyInput | undefined {
  const named: WebhookInput[] = config.notifications.webhooks.map((entry, index) => ({
    name: typeof entry === 'string' ? entry : implicitWebhookName(index),
  }));
  const webhooks: WebhookInput[] = [...named, ...urls.map((url) => ({ url }))];
  return webhooks.length > 0 ? { webhooks } : undefined;
}
