import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-KvmClone-Signature';
export const TIMESTAMP_HEADER = 'X-KvmClone-Timestamp';

/**
 * `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. The timestamp is inside the MAC so a
 * captured request cannot be replayed later with a fresh timestamp.
 */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface SignatureCheck {
  secret: string;
  /** The X-KvmClone-Timestamp header: Unix seconds. */
  timestamp: string | undefined;
  /** The X-KvmClone-Signature header. */
  signature: string | undefined;
  /** The raw request body, exactly as received. */
  body: string;
  /** How old (or how far ahead) a request may be; default 5 minutes. */
  toleranceSeconds?: number;
  nowSeconds?: number;
}

/** What a receiver does: a fresh timestamp and a matching MAC, compared in constant time. */
export function verifyWebhookSignature(check: SignatureCheck): boolean {
  const timestamp = Number(check.timestamp);
  if (!check.timestamp || !Number.isInteger(timestamp) || !check.signature) return false;
  const now = check.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (check.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(webhookSignature(check.secret, timestamp, check.body));
  const given = Buffer.from(check.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
