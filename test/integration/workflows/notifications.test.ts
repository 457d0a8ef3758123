import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { NotificationDocument } from '../../../src/domain/notification';
import { ErrorCode } from '../../../src/errors';
import { verifyWebhookSignature } from '../../../src/notifications/signature';
import { eventually } from '../../helpers/cli';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';

const lab = new Lab(inject('labFile'));
const SECRET = 'shared-secret-Ünïcode';
let env: TestEnvironment | undefined;
const testEnvironment = (): TestEnvironment => env!;
let signed: WebhookReceiver;
let chat: WebhookReceiver;
let failuresOnly: WebhookReceiver;
let broken: WebhookReceiver;
let adHoc: WebhookReceiver;

beforeAll(async () => {
  // The worker runs in this process, so it reads the secret from this environment.
  process.env.KVM_CLONE_TEST_WEBHOOK_SECRET = SECRET;
  [signed, chat, failuresOnly, broken, adHoc] = await Promise.all([
    startWebhookReceiver(),
    startWebhookReceiver(200),
    startWebhookReceiver(),
    startWebhookReceiver(500),
    startWebhookReceiver(),
  ]);
  // Webhooks are configured on the worker, by name; inputs name them. Ad-hoc URLs must be under policy.webhookUrls.
  env = await startTestEnvironment(lab.aliases(), {
    webhooks: {
      signed: { url: signed.url, secretEnv: 'KVM_CLONE_TEST_WEBHOOK_SECRET' },
      chat: { url: chat.url, format: 'slack' },
      'failures-only': { url: failuresOnly.url, events: ['failure'] },
      broken: { url: broken.url },
    },
    policy: { webhookUrls: [adHoc.url] },
  });
});

afterAll(async () => {
  await env?.stop();
  await Promise.all([signed?.close(), chat?.close(), failuresOnly?.close(), broken?.close(), adHoc?.close()]);
});

function webhooks() {
  return [{ name: 'signed' }, { name: 'chat' }, { name: 'failures-only' }];
}

/** The one signed request a receiver got since `from`, checked the way a receiver would. */
function verifiedDocument(receiver: WebhookReceiver, from: number): NotificationDocument {
  const received = receiver.requests.slice(from);
  expect(received).toHaveLength(1);
  const request = received[0]!;
  expect(request.method).toBe('POST');
  expect(request.headers['content-type']).toBe('application/json');
  const check = {
    secret: SECRET,
    timestamp: request.headers['x-kvmclone-timestamp'] as string,
    signature: request.headers['x-kvmclone-signature'] as string,
    body: request.body,
  };
  expect(check.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
  expect(verifyWebhookSignature(check)).toBe(true);
  expect(verifyWebhookSignature({ ...check, secret: 'wrong' })).toBe(false);
  expect(verifyWebhookSignature({ ...check, body: check.body.replace('"event"', '"event" ') })).toBe(false);
  // A replay an hour later is refused even with the signature intact.
  expect(verifyWebhookSignature({ ...check, nowSeconds: Number(check.timestamp) + 3600 })).toBe(false);
  return JSON.parse(request.body) as NotificationDocument;
}

describe('notifications from cloneVM and syncVM', () => {
  it('a successful clone POSTs a signed JSON document with its result, and Slack text; failure-only webhooks hear nothing', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('notify'));
    const from = [signed.requests.length, chat.requests.length, failuresOnly.requests.length] as const;
    const result = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      newName: `${vm.name}-n`,
      notify: { webhooks: webhooks() },
    });
    expect(result.warnings.join('\n')).not.toContain('notification');

    const document = verifiedDocument(signed, from[0]);
    expect(document).toMatchObject({
      type: 'kvm-clone.notification',
      version: 1,
      event: 'success',
      kind: 'clone',
      operationId: result.operationId,
      vmName: vm.name,
      targetName: `${vm.name}-n`,
      sourceHost: 'a',
      destinationHost: 'b',
      result: { success: true, newName: `${vm.name}-n`, bytesTransferred: result.bytesTransferred },
    });
    expect(document.error).toBeUndefined();
    expect(Date.parse(document.endedAt)).toBeGreaterThan(Date.now() - 120_000);

    expect(chat.requests.slice(from[1])).toHaveLength(1);
    const text = JSON.parse(chat.requests.at(-1)!.body) as { text: string };
    expect(Object.keys(text)).toEqual(['text']);
    expect(text.text).toContain(`clone of ${vm.name} (a) to ${vm.name}-n (b) succeeded`);
    expect(chat.requests.at(-1)!.headers['x-kvmclone-signature']).toBeUndefined();
    expect(failuresOnly.requests.length).toBe(from[2]);
  });

  it('a failed sync POSTs the error code and message, and still fails with its own code', async () => {
    const name = uniqueVmName('notifyfail');
    await lab.makeVm('a', name);
    const from = [signed.requests.length, chat.requests.length, failuresOnly.requests.length] as const;
    await expect(
      testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: name, notify: { webhooks: webhooks() } }),
    ).rejects.toMatchObject({ code: ErrorCode.VM_NOT_FOUND_ERROR });

    const document = verifiedDocument(signed, from[0]);
    expect(document).toMatchObject({
      event: 'failure',
      kind: 'sync',
      operationId: `sync:b:${name}`,
      vmName: name,
      targetName: name,
      error: { code: ErrorCode.VM_NOT_FOUND_ERROR, codeName: 'VM_NOT_FOUND_ERROR' },
    });
    expect(document.error!.message).toContain(name);
    expect(document.result).toBeUndefined();
    expect(JSON.parse(chat.requests.at(-1)!.body).text).toMatch(/sync of .* failed: error 1003 \(VM_NOT_FOUND_ERROR\)/);
    expect(failuresOnly.requests.length).toBe(from[2] + 1);
  });

  it('a cancelled clone POSTs `cancelled` and still ends in failure', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('notifycancel'), { dataSize: '256M', fillMib: 64 });
    const from = signed.requests.length;
    const handle = await testEnvironment().client.startClone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      newName: `${vm.name}-c`,
      bandwidthLimit: '1M',
      notify: { webhooks: webhooks() },
    });
    await eventually(
      async () => (await testEnvironment().client.progress(handle.workflowId)).phase === 'copying',
      'the copy to start',
    );
    await testEnvironment().client.cancel(handle.workflowId);
    // The operation ends as it does without webhooks (1008; see the report about a 1000 race).
    await expect(testEnvironment().client.result(handle.workflowId)).rejects.toMatchObject({
      code: expect.any(Number),
    });
    const document = verifiedDocument(signed, from);
    expect(document).toMatchObject({
      event: 'cancelled',
      kind: 'clone',
      operationId: handle.workflowId,
      error: { code: ErrorCode.OPERATION_CANCELLED_ERROR },
    });
  });

  it('a receiver that keeps answering 500 gets every retry, and the clone succeeds with a warning naming the webhook, not its URL', async () => {
    const from = broken.requests.length;
    const vm = await lab.makeVm('a', uniqueVmName('notify500'));
    const result = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      newName: `${vm.name}-r`,
      notify: { webhooks: [{ name: 'broken' }] },
    });
    expect(result.success).toBe(true);
    expect(broken.requests.length - from).toBe(4); // notifyOptions: maximumAttempts 4
    expect(result.warnings).toContainEqual(expect.stringMatching(/^notification to webhook 'broken' failed: .*500/));
    expect(result.warnings.join('\n')).not.toContain(broken.url);
    expect(await lab.domainState('b', `${vm.name}-r`)).toBe('shut off');
  });

  it('an ad-hoc webhook under policy.webhookUrls gets the document, unsigned', async () => {
    const from = adHoc.requests.length;
    const vm = await lab.makeVm('a', uniqueVmName('notifyadhoc'));
    const result = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      dryRun: true,
      notify: { webhooks: [{ url: `${adHoc.url}/deeper`, events: ['success'] }] },
    });
    expect(result.warnings.join('\n')).not.toContain('notification');
    const received = adHoc.requests.slice(from);
    expect(received).toHaveLength(1);
    expect(received[0]!.path).toBe('/hook/deeper');
    expect(received[0]!.headers['x-kvmclone-signature']).toBeUndefined();
    expect(JSON.parse(received[0]!.body)).toMatchObject({ event: 'success', kind: 'clone', vmName: vm.name });
  });
});
