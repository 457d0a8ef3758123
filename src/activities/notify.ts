import type { NotificationDocument } from '../domain/notification';
import type { Webhook } from '../domain/schemas/notify';
import { ErrorCode, KvmCloneError } from '../errors';
import { webhookRequest } from '../notifications/webhook-request';
import { activityBody } from './deps';

export interface NotifyRequest {
  webhook: Webhook;
  document: NotificationDocument;
}

/** How long one delivery attempt may take; a slow receiver must not hold a worker slot. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A receiver that answers 408, 429 or 5xx may take the notification later; other 4xx will not. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function secretOf(webhook: Webhook, env: NodeJS.ProcessEnv): string | undefined {
  if (webhook.secretEnv === undefined) return webhook.secret;
  const secret = env[webhook.secretEnv];
  if (!secret) {
    throw new KvmCloneError(ErrorCode.CONFIGURATION_ERROR, `webhook ${webhook.url}: the worker has no environment variable ${webhook.secretEnv} for its secret`, { url: webhook.url });
  }
  return secret;
}

/**
 * POSTs one notification to one webhook. Each attempt is signed afresh, so its timestamp is
 * the time it is sent; the workflow retries with its own backoff and never fails for it.
 */
export function notify(env: NodeJS.ProcessEnv = process.env) {
  return ({ webhook, document }: NotifyRequest): Promise<{ status: number }> =>
    activityBody(async () => {
      const request = webhookRequest(document, webhook.format, secretOf(webhook, env), Math.floor(Date.now() / 1000));
      let response: Response;
      try {
        response = await fetch(webhook.url, { method: 'POST', headers: request.headers, body: request.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: 'error' });
      } catch (error) {
        const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
        throw new KvmCloneError(ErrorCode.NETWORK_ERROR, `webhook ${webhook.url}: ${reason}`, { url: webhook.url }, { retryable: true });
      }
      // The body is not needed; reading it lets the connection be reused or closed.
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) {
        throw new KvmCloneError(
          ErrorCode.NETWORK_ERROR,
          `webhook ${webhook.url} answered ${response.status} ${response.statusText}`.trim(),
          { url: webhook.url, status: response.status },
          { retryable: retryableStatus(response.status) },
        );
      }
      return { status: response.status };
    });
}
