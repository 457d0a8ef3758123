/**
 * Attacks by whoever can start a workflow (the Temporal UI, a schedule, any client of the
 * namespace) on what the worker's config decides: which hosts it connects to and with
 * which keys, which URLs it calls, which secrets it signs with, where the source's own
 * SSH goes. Each would have worked before the worker policy; each must fail now.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';

/** Every line the worker logs at INFO and above (an operator's default), with its metadata. */
const workerLog: string[] = [];
function capture(level: LogLevel, message: string, meta?: Record<string, unknown>): void {
  workerLog.push(`${level} ${message} ${inspect(meta ?? {}, { depth: 6 })}`);
}
try {
  Runtime.install({ logger: new DefaultLogger('INFO', (entry) => capture(entry.level, entry.message, entry.meta)) });
} catch {
  // A runtime made earlier in this process: listen on its logger instead.
  const logger = Runtime.instance().logger;
  const log = logger.log.bind(logger);
  logger.log = (level, message, meta) => {
    capture(level, message, meta);
    log(level, message, meta);
  };
}

const lab = new Lab(inject('labFile'));
/** A Slack-style incoming webhook: the token in its path is the secret. */
const SLACK_TOKEN = 'T0KVMCLONE/B0SECRET/xoxSLACKTOKEN4242';
const TEMPORAL_API_KEY = 'temporal-api-key-must-stay-on-the-worker';
let env: TestEnvironment | undefined;
let local: WebhookReceiver;
let slack: WebhookReceiver;
let vm: LabVm;
let scratch: string;

beforeAll(async () => {
  process.env.KVM_CLONE_TEMPORAL_API_KEY = TEMPORAL_API_KEY;
  [local, slack] = await Promise.all([startWebhookReceiver(), startWebhookReceiver(500)]);
  const slackOrigin = new URL(slack.url).origin;
  env = await startTestEnvironment(
    // b-noroute is host b without a direct route from a.
    { ...lab.aliases(), 'b-noroute': lab.hostSpec('b') },
    {
      webhooks: { chat: { url: `${slackOrigin}/services/${SLACK_TOKEN}`, format: 'slack' } },
      // Ad-hoc webhooks may go to the Slack-like receiver's /services/ only; the other local receiver is not allowed.
      policy: { webhookUrls: [`${slackOrigin}/services/`] },
    },
  );
  vm = await lab.makeVm('a', uniqueVmName('policy'));
  scratch = await mkdtemp(path.join(tmpdir(), 'kvm-clone-policy-'));
});

afterAll(async () => {
  await env?.stop();
  await Promise.all([local?.close(), slack?.close()]);
  if (vm) await lab.removeVm('a', vm).catch(() => undefined);
  if (scratch) await rm(scratch, { recursive: true, force: true });
  delete process.env.KVM_CLONE_TEMPORAL_API_KEY;
});

function client() {
  return env!.client;
}

/** A TCP listener that counts who connects: proof that nothing was pointed at it. */
async function tcpTrap(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('hosts: only aliases of the worker config', () => {
  it("attack: an inline destination with the worker's key, a known_hosts file of the attacker's choice and accept-new is refused with 1300, and no file is written", async () => {
    const knownHosts = path.join(scratch, 'planted', 'known_hosts');
    const attacker = {
      ...lab.hostSpec('b'),
      knownHostsFile: knownHosts,
      hostKeyPolicy: 'accept-new' as const,
      identityFile: lab.file.identityFile,
      libvirtUri: 'qemu:///session',
    };
    await expect(
      client().clone({ source: 'a', destination: attacker, vmName: vm.name, newName: `${vm.name}-x` }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_HOST,
      message: expect.stringContaining('policy.inlineHosts'),
    });
    expect(existsSync(knownHosts)).toBe(false);
    expect(existsSync(path.dirname(knownHosts))).toBe(false);
    expect(await lab.domainState('b', `${vm.name}-x`)).toBeUndefined();
  });

  it("attack: an inline source (to read a VM off a host of the attacker's choice) is refused with 1300 and never connected to", async () => {
    const trap = await tcpTrap();
    try {
      await expect(
        client().sync({
          source: { address: '127.0.0.1', port: trap.port, user: 'root', identityFile: lab.file.identityFile },
          destination: 'b',
          vmName: vm.name,
        }),
      ).rejects.toMatchObject({
        code: ErrorCode.INVALID_HOST,
      });
      expect(trap.connections()).toBe(0);
    } finally {
      await trap.close();
    }
  });
});

describe('direct routes: only from the worker config', () => {
  it("attack: a direct route object in the input is refused, and the source's SSH is never pointed at it", async () => {
    const trap = await tcpTrap();
    try {
      const input = {
        source: 'a',
        destination: 'b',
        vmName: vm.name,
        newName: `${vm.name}-d`,
        direct: { address: '127.0.0.1', port: trap.port, user: 'root' },
      } as unknown as Parameters<TestEnvironment['client']['clone']>[0];
      await expect(client().clone(input)).rejects.toMatchObject({
        code: ErrorCode.VALIDATION_ERROR,
        message: expect.stringContaining('hosts.<source>.direct.<destination>'),
      });
      expect(trap.connections()).toBe(0);
      expect(await lab.domainState('b', `${vm.name}-d`)).toBeUndefined();
    } finally {
      await trap.close();
    }
  });

  it('direct: true between hosts without a configured route fails with 1001 naming the missing key', async () => {
    await expect(
      client().clone({ source: 'a', destination: 'b-noroute', vmName: vm.name, newName: `${vm.name}-n`, direct: true }),
    ).rejects.toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: expect.stringContaining('hosts.a.direct.b-noroute'),
    });
    expect(await lab.domainState('b', `${vm.name}-n`)).toBeUndefined();
  });
});

describe('webhooks: named on the worker, ad-hoc only under policy.webhookUrls', () => {
  it('attack: webhooks to a loopback receiver and to the cloud metadata address are refused and never fetched; the clone still succeeds', async () => {
    const from = local.requests.length;
    const result = await client().clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      dryRun: true,
      notify: {
        webhooks: [
          { url: `${local.url}?steal=1` },
          { url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' },
        ],
      },
    });
    expect(result.success).toBe(true);
    expect(local.requests.length).toBe(from);
    const warnings = result.warnings.filter((warning) => warning.startsWith('notification'));
    expect(warnings).toHaveLength(2);
    for (const warning of warnings)
      expect(warning).toMatch(/refused and was not called: its URL is not under this worker's policy\.webhookUrls/);
    expect(warnings.join('\n')).toContain(`${new URL(local.url).origin}/…`);
    expect(warnings.join('\n')).toContain('http://169.254.169.254/…');
    expect(warnings.join('\n')).not.toContain('security-credentials');
  });

  it('attack: a webhook secret in the workflow input is refused, naming the way to configure one on the worker, and nothing is sent', async () => {
    const from = local.requests.length;
    const input = {
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      dryRun: true,
      notify: { webhooks: [{ url: local.url, secret: 'in-history' }] },
    } as unknown as Parameters<TestEnvironment['client']['clone']>[0];
    await expect(client().clone(input)).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_ERROR,
      message: expect.stringContaining('configure a named webhook on the worker'),
    });
    expect(local.requests.length).toBe(from);
  });

  it("attack: secretEnv naming the worker's KVM_CLONE_TEMPORAL_API_KEY cannot be given: refused, the key never leaves the worker", async () => {
    const before = [local.requests.length, slack.requests.length];
    for (const webhook of [
      { url: `${new URL(slack.url).origin}/services/x`, secretEnv: 'KVM_CLONE_TEMPORAL_API_KEY' },
      { name: 'chat', secretEnv: 'KVM_CLONE_TEMPORAL_API_KEY' },
    ]) {
      const input = {
        source: 'a',
        destination: 'b',
        vmName: vm.name,
        dryRun: true,
        notify: { webhooks: [webhook] },
      } as unknown as Parameters<TestEnvironment['client']['clone']>[0];
      await expect(client().clone(input)).rejects.toMatchObject({
        code: ErrorCode.VALIDATION_ERROR,
        message: expect.stringMatching(/secretEnv: .*configure a named webhook/),
      });
    }
    expect([local.requests.length, slack.requests.length]).toEqual(before);
    const everything = [...local.requests, ...slack.requests].map((request) => JSON.stringify(request)).join('\n');
    expect(everything).not.toContain(TEMPORAL_API_KEY);
  });

  it("attack: a Slack webhook URL (named, or ad-hoc under the policy) never appears in the result's warnings or the worker's log", async () => {
    const from = slack.requests.length;
    const result = await client().clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      dryRun: true,
      notify: { webhooks: [{ name: 'chat' }, { url: `${new URL(slack.url).origin}/services/${SLACK_TOKEN}/adhoc` }] },
    });
    expect(result.success).toBe(true);
    // Both were called (and kept failing with 500, with every retry): the URLs were used, not printed.
    expect(slack.requests.length - from).toBe(8);
    expect(slack.requests.slice(from).map((request) => request.path)).toContain(`/services/${SLACK_TOKEN}`);
    const warnings = result.warnings.filter((warning) => warning.startsWith('notification'));
    expect(warnings).toEqual([
      expect.stringMatching(/^notification to webhook 'chat' failed: webhook 'chat' answered 500/),
      expect.stringMatching(
        new RegExp(`^notification to ${new URL(slack.url).origin.replace(/[.]/g, '\\.')}/… failed: .*answered 500`),
      ),
    ]);
    expect(JSON.stringify(result)).not.toContain('SLACKTOKEN');
    expect(workerLog.length).toBeGreaterThan(0);
    expect(workerLog.filter((line) => line.includes('SLACKTOKEN'))).toEqual([]);
  });
});
