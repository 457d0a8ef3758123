import type { NotificationDocument } from '../domain/notification';
import { isNamedWebhook, type ConfiguredWebhook, type Webhook } from '../domain/schemas/notify';
import { webhookLabel, webhookUrlAllowed, withoutUrl } from '../domain/webhook-target';
import { ErrorCode, KvmCloneError } from '../errors';
import { webhookRequest } from '../notifications/webhook-request';
import { activityBody, type ActivityDeps } from './deps';

export interface NotifyRequest {
  webhook: Webhook;
  document: NotificationDocument;
}

/** `skipped`: a named webhook whose configured events leave this one out. */
export type NotifyResult = { status: number } | { skipped: true };

/** How long one delivery attempt may take; a slow receiver must not hold a worker slot. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A receiver that answers 408, 429 or 5xx may take the notification later; other 4xx will not. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Where a notification goes and how, all of it decided by the worker's config. */
interface Delivery {
  url: string;
  format: ConfiguredWebhook['format'];
  events: ConfiguredWebhook['events'];
  secret: string | undefined;
  /** How messages name it: never its URL. */
  label: string;
}

function secretOf(name: string, webhook: ConfiguredWebhook, env: NodeJS.ProcessEnv): string | undefined {
  if (webhook.secretEnv === undefined) return webhook.secret;
  const secret = env[webhook.secretEnv];
  if (!secret) {
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `webhook '${name}': the worker has no environment variable ${webhook.secretEnv} for its secret`,
      { webhook: name },
    );
  }
  return secret;
}

/**
 * A named webhook comes from the worker's config, with its secret; an ad-hoc one only when
 * its URL is under the operator's policy.webhookUrls, and it is never signed. Anything else
 * is refused before a connection is made: the worker must not become a way to reach its
 * own network (loopback, cloud metadata) for whoever can start a workflow.
 */
function deliveryFor(
  deps: Pick<ActivityDeps, 'webhooks' | 'policy'>,
  webhook: Webhook,
  env: NodeJS.ProcessEnv,
): Delivery {
  const label = webhookLabel(webhook);
  if (isNamedWebhook(webhook)) {
    const configured = Object.hasOwn(deps.webhooks, webhook.name) ? deps.webhooks[webhook.name] : undefined;
    if (!configured) {
      const known = Object.keys(deps.webhooks);
      throw new KvmCloneError(
        ErrorCode.CONFIGURATION_ERROR,
        `${label} is not configured on this worker (${known.length ? `configured: ${known.join(', ')}` : 'it has no webhooks'}; see webhooks: in its config)`,
        { webhook: webhook.name },
      );
    }
    return {
      url: configured.url,
      format: configured.format,
      events: configured.events,
      secret: secretOf(webhook.name, configured, env),
      label,
    };
  }
  if (!webhookUrlAllowed(webhook.url, deps.policy.webhookUrls)) {
    throw new KvmCloneError(
      ErrorCode.VALIDATION_ERROR,
      `ad-hoc webhook ${label} is refused and was not called: its URL is not under this worker's policy.webhookUrls (${deps.policy.webhookUrls.length ? deps.policy.webhookUrls.length + ' prefixes' : 'none configured'}); name a webhook configured on the worker instead`,
      { webhook: label },
    );
  }
  return { url: webhook.url, format: webhook.format, events: webhook.events, secret: undefined, label };
}

/**
 * POSTs one notification to one webhook. Each attempt is signed afresh, so its timestamp is
 * the time it is sent; the workflow retries with its own backoff and never fails for it.
 * Messages name the webhook by its label, never by its URL.
 */
export function notify(deps: Pick<ActivityDeps, 'webhooks' | 'policy'>, env: NodeJS.ProcessEnv = process.env) {
  return ({ webhook, document }: NotifyRequest): Promise<NotifyResult> =>
    activityBody(async () => {
      const delivery = deliveryFor(deps, webhook, env);
      if (!delivery.events.includes(document.event)) return { skipped: true };
      const request = webhookRequest(document, delivery.format, delivery.secret, Math.floor(Date.now() / 1000));
      let response: Response;
      try {
        response = await fetch(delivery.url, {
          method: 'POST',
          headers: request.headers,
          body: request.body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          redirect: 'error',
        });
      } catch (error) {
        const reason =
          error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
        throw new KvmCloneError(
          ErrorCode.NETWORK_ERROR,
          `${delivery.label}: ${withoutUrl(reason, delivery.url, delivery.label)}`,
          { webhook: delivery.label },
          { retryable: true },
        );
      }
      // The body is not needed; reading it lets the connection be reused or closed.
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) {
        throw new KvmCloneError(
          ErrorCode.NETWORK_ERROR,
          `${delivery.label} answered ${response.status} ${response.statusText}`.trim(),
          { webhook: delivery.label, status: response.status },
          { retryable: retryableStatus(response.status) },
        );
      }
      return { status: response.status };
    });
}
