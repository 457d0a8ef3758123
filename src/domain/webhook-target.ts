import { isNamedWebhook, type Webhook } from './schemas/notify';

/**
 * How warnings, errors and logs name a webhook. A webhook URL is often a secret itself
 * (Slack's and Teams' incoming webhooks carry their token in the path), so a configured
 * one is named by its name, and an ad-hoc one by its scheme and host only:
 * `https://hooks.slack.com/…`. Pure string work, so workflows can use it too.
 */
export function webhookLabel(webhook: Webhook): string {
  return isNamedWebhook(webhook) ? `webhook '${webhook.name}'` : webhookOrigin(webhook.url);
}

/** `https://hooks.slack.com/…`: scheme, host and port, without user info, path or query. */
export function webhookOrigin(url: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)/.exec(url);
  if (!match) return '(webhook)';
  const authority = match[2]!.slice(match[2]!.lastIndexOf('@') + 1);
  return `${match[1]!.toLowerCase()}${authority.toLowerCase()}/…`;
}

/** Replaces every occurrence of a URL in a text (an error from the HTTP client) by its label. */
export function withoutUrl(text: string, url: string, label: string): string {
  return url.length > 0 ? text.split(url).join(label) : text;
}

/**
 * Whether an ad-hoc webhook URL is under one of the operator's prefixes (policy.webhookUrls).
 * Compared as parsed URLs, not as strings: the scheme and host (with port) must be equal,
 * and the path must continue the prefix's at a `/`, so `https://hooks.example.com` does not
 * admit `https://hooks.example.com.evil.test/` and `/kvm` does not admit `/kvm-other`.
 * User info in the URL is refused unless the prefix has the same.
 */
export function webhookUrlAllowed(url: string, prefixes: readonly string[]): boolean {
  const target = parsed(url);
  if (!target) return false;
  return prefixes.some((prefix) => {
    const allowed = parsed(prefix);
    if (!allowed) return false;
    if (target.protocol !== allowed.protocol || target.host !== allowed.host) return false;
    if (target.username !== allowed.username || target.password !== allowed.password) return false;
    const path = allowed.pathname;
    return path.endsWith('/')
      ? target.pathname.startsWith(path)
      : target.pathname === path || target.pathname.startsWith(`${path}/`);
  });
}

function parsed(url: string): URL | undefined {
  try {
    const value = new URL(url);
    return value.protocol === 'http:' || value.protocol === 'https:' ? value : undefined;
  } catch {
    return undefined;
  }
}
