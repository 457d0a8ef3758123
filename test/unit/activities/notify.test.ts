import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notify, type NotifyRequest } from '../../../src/activities/notify';
import type { NotificationDocument } from '../../../src/domain/notification';
import { configuredWebhookSchema, type Webhook } from '../../../src/domain/schemas/notify';
import { DEFAULT_WORKER_POLICY, workerPolicySchema } from '../../../src/domain/schemas/worker-policy';
import { ErrorCode } from '../../../src/errors';
import { verifyWebhookSignature } from '../../../src/notifications/signature';
import { testLogger } from '../../helpers/test-log';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';

const document = {
  type: 'kvm-clone.notification',
  version: 1,
  event: 'failure',
  kind: 'clone',
  operationId: 'clone:b:web01',
  runId: 'r',
  vmName: 'web01',
  targetName: 'web01_clone',
  sourceHost: 'a',
  destinationHost: 'b',
  endedAt: '1970-01-01T00:00:00.000Z',
  error: { code: 1002, codeName: 'CONNECTION_ERROR', message: 'down' },
} satisfies NotificationDocument;

let receiver: WebhookReceiver;
let failing: WebhookReceiver;

beforeAll(async () => {
  [receiver, failing] = await Promise.all([startWebhookReceiver(), startWebhookReceiver(500)]);
});

afterAll(async () => {
  await Promise.all([receiver?.close(), failing?.close()]);
});

function deps(options: { webhookUrls?: string[]; webhooks?: Record<string, unknown> } = {}) {
  return {
    policy: workerPolicySchema.parse({ webhookUrls: options.webhookUrls ?? [] }),
    webhooks: Object.fromEntries(
      Object.entries(options.webhooks ?? {}).map(([name, webhook]) => [name, configuredWebhookSchema.parse(webhook)]),
    ),
  };
}

async function send(
  activityDeps: ReturnType<typeof deps>,
  webhook: Webhook,
  env: NodeJS.ProcessEnv = {},
): Promise<unknown> {
  const request: NotifyRequest = { webhook, document };
  // The failures these tests provoke go to the test log, not the terminal.
  return new MockActivityEnvironment(undefined, { logger: testLogger() })
    .run(notify(activityDeps, env), request)
    .catch((error: unknown) => error);
}

describe('the notify activity', () => {
  it("signs a named webhook with the secret from the worker's environment, by the worker's config", async () => {
    const from = receiver.requests.length;
    const result = await send(
      deps({ webhooks: { ops: { url: receiver.url, secretEnv: 'OPS_SECRET' } } }),
      { name: 'ops' },
      { OPS_SECRET: 's3' },
    );
    expect(result).toEqual({ status: 204 });
    const request = receiver.requests[from]!;
    expect(
      verifyWebhookSignature({
        secret: 's3',
        timestamp: request.headers['x-kvmclone-timestamp'] as string,
        signature: request.headers['x-kvmclone-signature'] as string,
        body: request.body,
      }),
    ).toBe(true);
  });

  it('skips a named webhook whose configured events leave this one out, and says so', async () => {
    const from = receiver.requests.length;
    expect(
      await send(deps({ webhooks: { ops: { url: receiver.url, events: ['success'] } } }), { name: 'ops' }),
    ).toEqual({ skipped: true });
    expect(receiver.requests.length).toBe(from);
  });

  it('refuses an unknown name (1001) and a missing secret variable (1001), naming the webhook, not its URL', async () => {
    expect(await send(deps({ webhooks: { ops: { url: receiver.url } } }), { name: 'other' })).toMatchObject({
      message: expect.stringMatching(/webhook 'other' is not configured on this worker \(configured: ops/),
      details: [expect.objectContaining({ code: ErrorCode.CONFIGURATION_ERROR })],
    });
    const missing = await send(deps({ webhooks: { ops: { url: receiver.url, secretEnv: 'NOT_SET' } } }), {
      name: 'ops',
    });
    expect(missing).toMatchObject({
      message: expect.stringContaining("webhook 'ops': the worker has no environment variable NOT_SET"),
    });
    expect((missing as Error).message).not.toContain(receiver.url);
  });

  it('calls an ad-hoc URL under policy.webhookUrls, unsigned', async () => {
    const from = receiver.requests.length;
    expect(
      await send(deps({ webhookUrls: [receiver.url] }), {
        url: `${receiver.url}/x`,
        events: ['failure'],
        format: 'json',
      }),
    ).toEqual({ status: 204 });
    expect(receiver.requests[from]!.headers['x-kvmclone-signature']).toBeUndefined();
  });

  it('attack: refuses an ad-hoc URL outside policy.webhookUrls (1007) without fetching it', async () => {
    const from = receiver.requests.length;
    for (const policy of [deps(), deps({ webhookUrls: ['https://hooks.example.com/'] })]) {
      const refused = await send(policy, { url: receiver.url, events: ['failure'], format: 'json' });
      expect(refused).toMatchObject({
        nonRetryable: true,
        details: [expect.objectContaining({ code: ErrorCode.VALIDATION_ERROR })],
      });
      expect((refused as Error).message).toMatch(
        /^ad-hoc webhook http:\/\/127\.0\.0\.1:\d+\/… is refused and was not called/,
      );
    }
    expect(receiver.requests.length).toBe(from);
    expect(DEFAULT_WORKER_POLICY.webhookUrls).toEqual([]);
  });

  it('attack: a failing Slack-style URL is named by its origin (ad-hoc) or name (configured), never with its token', async () => {
    const secretUrl = `${failing.url}/services/T000/B000/TOKENxyz`;
    const adHoc = await send(deps({ webhookUrls: [failing.url] }), {
      url: secretUrl,
      events: ['failure'],
      format: 'slack',
    });
    expect(adHoc).toMatchObject({
      message: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/… answered 500/),
      nonRetryable: false,
    });
    const named = await send(deps({ webhooks: { chat: { url: secretUrl, format: 'slack' } } }), { name: 'chat' });
    expect(named).toMatchObject({ message: expect.stringMatching(/^webhook 'chat' answered 500/) });
    const unreachable = await send(deps({ webhooks: { chat: { url: 'http://127.0.0.1:1/services/TOKENxyz' } } }), {
      name: 'chat',
    });
    for (const error of [adHoc, named, unreachable])
      expect(
        JSON.stringify({ message: (error as Error).message, details: (error as { details: unknown }).details }),
      ).not.toContain('TOKENxyz');
  });
});
