import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { stopServerProcess, isServerHealthy } from '../../../src/temporal/dev-server';
import { findFreePort } from '../../../src/temporal/free-port';
import { cloneResultDocument, operationsDocument } from '../../helpers/cli-documents';
import { eventually, jsonLines, kvmClone, spawnKvmClone, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';

const lab = new Lab(inject('labFile'));
let dir: string;
let config: string;
let vm: LabVm;
let env: NodeJS.ProcessEnv;
let named: WebhookReceiver;
let adHoc: WebhookReceiver;

/** A server a test started detached (the embedded default), found by the pid file it leaves. */
async function stopDetachedServer(): Promise<void> {
  const pid = Number(await readFile(path.join(dir, 'state', 'kvm-clone', 'temporal.pid'), 'utf8').catch(() => ''));
  if (pid > 0) await stopServerProcess(pid);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-embedded-'));
  // No temporal address: the embedded default, on ports and a state dir of this test's own.
  config = await writeLabConfig(lab, path.join(dir, 'config.yaml'));
  env = {
    KVM_CLONE_EMBEDDED_PORT: String(await findFreePort()),
    KVM_CLONE_EMBEDDED_UI_PORT: String(await findFreePort()),
    XDG_STATE_HOME: path.join(dir, 'state'),
  };
  vm = await lab.makeVm('a', uniqueVmName('embedded'));
  // The in-process worker takes the same config's named webhooks and policy: a named webhook
  // every operation notifies (signed with its secret), and --notify URLs under policy.webhookUrls.
  [named, adHoc] = await Promise.all([startWebhookReceiver(), startWebhookReceiver()]);
  for (const [key, value] of [
    ['webhooks.ops', `{ url: '${named.url}', secret: embedded-secret }`],
    ['notifications.webhooks', '[ops]'],
    ['policy.webhookUrls', `['${adHoc.url}']`],
  ]) {
    expect((await kvmClone(['-c', config, 'config', 'set', key!, value!])).code).toBe(0);
  }
});

afterAll(async () => {
  await stopDetachedServer();
  await Promise.all([named?.close(), adHoc?.close()]);
  if (vm) await lab.removeVm('a', vm);
  for (const clone of [`${vm.name}-e`, `${vm.name}-e2`]) {
    await lab.virsh('b', 'undefine', '--domain', clone).catch(() => undefined);
    await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${clone}-*`).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
});

describe('the embedded Temporal (the real CLI binary)', () => {
  it('server runs the dev server in the foreground, prints its Web UI, and stops on SIGINT', async () => {
    const server = spawnKvmClone(['-c', config, '-o', 'json', 'server'], env);
    try {
      await eventually(() => server.output.stdout.includes('"type":"server"'), 'the server to start', 60_000);
      const started = z
        .object({
          type: z.literal('server'),
          address: z.string(),
          uiUrl: z.string(),
          stateDir: z.string(),
          pid: z.number(),
        })
        .parse(JSON.parse(server.output.stdout));
      expect(started.address).toBe(`127.0.0.1:${env.KVM_CLONE_EMBEDDED_PORT}`);
      expect(started.uiUrl).toBe(`http://127.0.0.1:${env.KVM_CLONE_EMBEDDED_UI_PORT}`);
      expect((await fetch(started.uiUrl)).ok).toBe(true);
      // Commands without an address use it.
      const status = await kvmClone(['-c', config, '-o', 'json', 'status', '--all'], env);
      expect(status.code).toBe(0);
      operationsDocument.parse(JSON.parse(status.stdout));
    } finally {
      server.child.kill('SIGINT');
    }
    expect(await server.exited).toBe(0);
    expect(await isServerHealthy(`127.0.0.1:${env.KVM_CLONE_EMBEDDED_PORT}`)).toBe(false);
  });

  it('clone with no address starts the server, runs its own worker, and leaves the server up', async () => {
    const { code, stdout, stderr } = await kvmClone(
      ['-c', config, '-o', 'json', 'clone', 'a', 'b', vm.name, '--new-name', `${vm.name}-e`],
      env,
    );
    expect(stderr).toContain(`Temporal Web UI: http://127.0.0.1:${env.KVM_CLONE_EMBEDDED_UI_PORT}`);
    expect(code, `${stderr.slice(-4000)}\n${stdout.slice(-2000)}`).toBe(0);
    expect(cloneResultDocument.parse(jsonLines(stdout).at(-1)).newName).toBe(`${vm.name}-e`);
    expect(await isServerHealthy(`127.0.0.1:${env.KVM_CLONE_EMBEDDED_PORT}`)).toBe(true);
    const all = operationsDocument.parse(
      JSON.parse((await kvmClone(['-c', config, '-o', 'json', 'status', '--all'], env)).stdout),
    );
    expect(all.operations).toContainEqual(
      expect.objectContaining({ operationId: `clone:a:${vm.name}:b:${vm.name}-e`, state: 'COMPLETED' }),
    );
    await eventually(
      async () =>
        (await readFile(path.join(dir, 'state', 'kvm-clone', 'temporal.db')).catch(() => undefined)) !== undefined,
      'the state file',
    );

    // Right after: the server still lists the first command's worker as a recent poller,
    // though its process is gone. The next command must run the work itself, not wait for it.
    const from = [named.requests.length, adHoc.requests.length];
    const again = await kvmClone(
      [
        '-c',
        config,
        '-o',
        'json',
        '--verbose',
        'clone',
        'a',
        'b',
        vm.name,
        '--new-name',
        `${vm.name}-e2`,
        '--notify',
        adHoc.url,
      ],
      env,
    );
    expect(again.stderr).toContain('running a worker in this process');
    // On failure, the message shows why: the CLI's own output.
    expect(again.code, `${again.stderr.slice(-4000)}\n${again.stdout.slice(-2000)}`).toBe(0);
    const result = cloneResultDocument.parse(jsonLines(again.stdout).at(-1));
    expect(result.newName).toBe(`${vm.name}-e2`);
    expect(result.warnings.join('\n')).not.toContain('notification');
    // This clone notified the configured webhook (signed) and its --notify URL (unsigned).
    expect(named.requests.length - from[0]!).toBe(1);
    expect(named.requests.at(-1)!.headers['x-kvmclone-signature']).toMatch(/^sha256=/);
    expect(adHoc.requests.length - from[1]!).toBe(1);
    expect(adHoc.requests.at(-1)!.headers['x-kvmclone-signature']).toBeUndefined();
  });

  it("a failed clone shows the error, its code and where the worker's log is; the worker's stack goes to that log", async () => {
    const workerLog = path.join(dir, 'state', 'kvm-clone', 'worker.log');
    const { code, stdout, stderr } = await kvmClone(['-c', config, 'clone', 'a', 'b', 'no-such-vm'], env);
    const terminal = `${stdout}${stderr}`;
    expect(code, terminal).toBe(1);
    expect(stderr).toMatch(/^kvm-clone: error 1003 \(VM_NOT_FOUND_ERROR\): VM 'no-such-vm' does not exist/m);
    expect(stderr.trim().split('\n').at(-1)).toBe(`kvm-clone: see ${workerLog} for the worker's log`);
    // The command's own story on stderr: the server, the operation, the error and the hint; on
    // stdout (not a terminal here) its progress and error documents. No line of the worker's log.
    expect(stderr.trim().split('\n').length, terminal).toBeLessThanOrEqual(5);
    expect(jsonLines(stdout).map((line) => line.type)).toEqual(expect.arrayContaining(['progress', 'error']));
    expect(terminal).not.toMatch(/runInContext|\[WARN\]|\[INFO\]|^\s+at /m);
    const logged = await readFile(workerLog, 'utf8');
    expect(logged).toMatch(/\[WARN\] Workflow failed .*clone:a:no-such-vm:b/s);
    expect(logged).toContain('runInContext');
  });
});
