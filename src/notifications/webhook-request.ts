import { notificationText, type NotificationDocument } from '../domain/notification';
import type { ConfiguredWebhook } from '../domain/schemas/notify';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, webhookSignature } from './signature';

export interface WebhookRequest {
  body: string;
  headers: Record<string, string>;
}

/** The POST a webhook gets: its format's body, and the signature headers when it has a secret. */
export function webhookRequest(
  document: NotificationDocument,
  format: ConfiguredWebhook['format'],
  secret: string | undefined,
  nowSeconds: number,
): WebhookRequest {
  const body = JSON.stringify(format === 'slack' ? { text: notificationText(document) } : document);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': 'kvm-clone',
    'X-KvmClone-Event': document.event,
  };
  if (secret !== undefined) {
    headers[TIMESTAMP_HEADER] = String(nowSeconds);
    headers[SIGNATURE_HEADER] = webhookSignature(secret, nowSeconds, body);
  }
  return { body, headers };
}
