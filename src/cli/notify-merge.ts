import type { NotifyInput, WebhookInput } from '../domain/schemas/notify';
import type { KvmCloneConfig } from './config-schema';

/**
 * The webhooks an operation started from the CLI notifies: the config's global ones, then
 * those given for this operation (--notify URL). Absent when there are none, so inputs stay
 * as small as before for users without notifications.
 */
export function notifyInputFor(config: Pick<KvmCloneConfig, 'notifications'>, urls: readonly string[] = []): NotifyInput | undefined {
  const webhooks: WebhookInput[] = [...config.notifications.webhooks, ...urls.map((url) => ({ url }))];
  return webhooks.length > 0 ? { webhooks } : undefined;
}
