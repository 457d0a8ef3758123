import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { notificationDocument } from '../../../src/domain/notification';
import { verifyWebhookSignature, webhookSignature } from '../../../src/notifications/signature';
import { webhookRequest } from '../../../src/notifications/webhook-request';

const operation = {
  kind: 'sync' as const,
  operationId: 'sync:b:web01',
  runId: 'r1',
  vmName: 'web01',
  targetName: 'web01',
  sourceHost: 'a',
  destinationHost: 'b',
};
const failed = notificationDocument(
  operation,
  { event: 'failure', error: { code: 1003, codeName: 'VM_NOT_FOUND_ERROR', message: "VM 'web01' does not exist" } },
  new Date('2025-01-31T02:00:00Z'),
);

describe('webhook signatures', () => {
  it('is the hex HMAC-SHA256 of "<timestamp>.<body>" with the secret', () => {
    const expected = createHmac('sha256', 's3cret').update('1700000000.{"a":1}').digest('hex');
    expect(webhookSignature('s3cret', 1700000000, '{"a":1}')).toBe(`sha256=${expected}`);
  });

  it('verifies a fresh request, and refuses a wrong secret, a changed body, a stale or missing timestamp', () => {
    const body = '{"event":"success"}';
    const check = {
      secret: 'k',
      timestamp: '1700000000',
      signature: webhookSignature('k', 1700000000, body),
      body,
      nowSeconds: 1700000010,
    };
    expect(verifyWebhookSignature(check)).toBe(true);
    expect(verifyWebhookSignature({ ...check, secret: 'other' })).toBe(false);
    expect(verifyWebhookSignature({ ...check, body: `${body} ` })).toBe(false);
    expect(verifyWebhookSignature({ ...check, nowSeconds: 1700000000 + 301 })).toBe(false);
    expect(verifyWebhookSignature({ ...check, timestamp: '1700000001' })).toBe(false);
    expect(verifyWebhookSignature({ ...check, timestamp: undefined })).toBe(false);
    expect(verifyWebhookSignature({ ...check, signature: 'sha256=00' })).toBe(false);
  });
});

describe('webhook requests', () => {
  it('sends the JSON document, signed over the exact body when there is a secret', () => {
    const request = webhookRequest(failed, 'json', 'k', 1700000000);
    expect(JSON.parse(request.body)).toEqual({
      type: 'kvm-clone.notification',
      version: 1,
      event: 'failure',
      ...operation,
      endedAt: '2025-01-31T02:00:00.000Z',
      error: { code: 1003, codeName: 'VM_NOT_FOUND_ERROR', message: "VM 'web01' does not exist" },
    });
    expect(request.headers).toMatchObject({
      'Content-Type': 'application/json',
      'X-KvmClone-Event': 'failure',
      'X-KvmClone-Timestamp': '1700000000',
    });
    expect(
      verifyWebhookSignature({
        secret: 'k',
        timestamp: '1700000000',
        signature: request.headers['X-KvmClone-Signature'],
        body: request.body,
        nowSeconds: 1700000000,
      }),
    ).toBe(true);
  });

  it('sends only {"text"} in slack format, and no signature headers without a secret', () => {
    const request = webhookRequest(failed, 'slack', undefined, 1700000000);
    expect(JSON.parse(request.body)).toEqual({
      text: "kvm-clone: sync of web01 (a) to web01 (b) failed: error 1003 (VM_NOT_FOUND_ERROR): VM 'web01' does not exist; operation sync:b:web01",
    });
    expect(request.headers['X-KvmClone-Signature']).toBeUndefined();
    expect(request.headers['X-KvmClone-Timestamp']).toBeUndefined();
  });
});
