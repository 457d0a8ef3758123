import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { findTemporalBinary } from '../../../src/temporal/binary';
import {
  devServerArgs,
  isServerHealthy,
  startDevServer,
  stopServerProcess,
  type DevServerHandle,
} from '../../../src/temporal/dev-server';
import { findFreePort } from '../../../src/temporal/free-port';

const SERVER_TEST_TIMEOUT_MS = 90_000;

let binary: string;
let scratch: string;

beforeAll(async () => {
  const found = await findTemporalBinary();
  if (found.path === undefined) {
    throw new Error('no Temporal CLI for the integration tests: run scripts/install-temporal');
  }
  binary = found.path;
  scratch = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-dev-server-test-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Resolves to the connect error code, or 'connected' if something listens. */
function probePort(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('dev server, attached with UI', () => {
  let server: DevServerHandle | undefined;
  let port: number;
  let uiPort: number;

  afterAll(async () => {
    await server?.stop();
  });

  it(
    'starts, serves gRPC and the UI, and closes its port on stop',
    async () => {
      port = await findFreePort();
      uiPort = await findFreePort();
      const startedAt = Date.now();
      server = await startDevServer({ binary, port, uiPort });
      const startupMs = Date.now() - startedAt;
      console.info(`dev server healthy after ${startupMs} ms`);

      expect(server.address).toBe(`127.0.0.1:${port}`);
      expect(server.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
      expect(isProcessAlive(server.pid)).toBe(true);
      expect(await isServerHealthy(server.address)).toBe(true);

      const connection = await Connection.connect({ address: server.address });
      try {
        const namespace = await connection.workflowService.describeNamespace({ namespace: 'default' });
        expect(namespace.namespaceInfo?.name).toBe('default');
        const listed = await connection.workflowService.listWorkflowExecutions({ namespace: 'default' });
        expect(listed.executions).toEqual([]);
      } finally {
        await connection.close();
      }

      const ui = await fetch(server.uiUrl ?? 'missing-ui-url');
      expect(ui.status).toBe(200);
      expect(await ui.text()).toContain('<html');

      const pid = server.pid;
      const stoppedAt = Date.now();
      await server.stop();
      console.info(`dev server stopped after ${Date.now() - stoppedAt} ms`);
      expect(isProcessAlive(pid)).toBe(false);
      expect(await probePort(port)).toBe('ECONNREFUSED');
      expect(await probePort(uiPort)).toBe('ECONNREFUSED');
      expect(await isServerHealthy(server.address)).toBe(false);

      await server.stop(); // a second stop is a no-op, not an error
    },
    SERVER_TEST_TIMEOUT_MS,
  );
});

describe('dev server, detached and persistent', () => {
  it(
    'writes output to its log file, keeps state in the database, and stops by pid',
    async () => {
      const port = await findFreePort();
      const dbFilename = path.join(scratch, 'temporal.sqlite');
      const logFile = path.join(scratch, 'server.log');
      const server = await startDevServer({
        binary,
        port,
        headless: true,
        detached: true,
        dbFilename,
        logFile,
        logLevel: 'info',
        namespace: 'kvm-clone-test',
      });
      try {
        expect(server.uiUrl).toBeUndefined();
        expect(server.logFile).toBe(logFile);
        const connection = await Connection.connect({ address: server.address });
        try {
          const described = await connection.workflowService.describeNamespace({ namespace: 'kvm-clone-test' });
          expect(described.namespaceInfo?.name).toBe('kvm-clone-test');
        } finally {
          await connection.close();
        }
        expect(existsSync(dbFilename)).toBe(true);
        expect((await readFile(logFile, 'utf8')).length).toBeGreaterThan(0);
      } finally {
        // The route a later CLI run takes: it knows only the pid.
        await stopServerProcess(server.pid);
      }
      expect(isProcessAlive(server.pid)).toBe(false);
      expect(await probePort(port)).toBe('ECONNREFUSED');
    },
    SERVER_TEST_TIMEOUT_MS,
  );
});

describe('dev server start failures', () => {
  it('refuses a port that another server holds, without starting anything', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const address = holder.address();
    const heldPort = typeof address === 'object' && address !== null ? address.port : -1;
    try {
      const error = await rejectionOf(startDevServer({ binary, port: heldPort, headless: true }));
      expect(error).toBeInstanceOf(KvmCloneError);
      expect((error as KvmCloneError).code).toBe(ErrorCode.CONFIGURATION_ERROR);
      expect((error as KvmCloneError).message).toContain(`127.0.0.1:${heldPort}`);
    } finally {
      holder.close();
    }
  });

  it('fails fast, with the server output, when the process exits early', async () => {
    const port = await findFreePort();
    const startedAt = Date.now();
    const error = await rejectionOf(
      startDevServer({ binary, port, headless: true, logLevel: 'not-a-level', startTimeoutMs: 20_000 }),
    );
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(KvmCloneError);
    const message = (error as KvmCloneError).message;
    expect(message).toContain('process ended');
    expect(message).toContain('not-a-level');
  }, 30_000);

  /** A stand-in for the CLI that never serves; it records its pid so the test can check it was stopped. */
  async function neverServingBinary(name: string, ignoreSigterm: boolean): Promise<{ file: string; pidFile: string }> {
    const file = path.join(scratch, name);
    const pidFile = `${file}.pid`;
    const trap = ignoreSigterm ? "trap '' TERM\n" : '';
    await writeFile(
      file,
      `#!/bin/bash\n${trap}echo $$ >'${pidFile}'\necho "pretending to start"\nwhile :; do sleep 0.1; done\n`,
    );
    await chmod(file, 0o755);
    return { file, pidFile };
  }

  it('gives up after the start timeout, with the output, and stops the process', async () => {
    const fake = await neverServingBinary('hangs', false);
    const error = await rejectionOf(
      startDevServer({ binary: fake.file, port: await findFreePort(), headless: true, startTimeoutMs: 1_500 }),
    );
    expect(error).toBeInstanceOf(KvmCloneError);
    expect((error as KvmCloneError).message).toMatch(/not serving after 1500 ms[\s\S]*pretending to start/);
    expect(isProcessAlive(Number(await readFile(fake.pidFile, 'utf8')))).toBe(false);
  }, 20_000);

  it('kills a process that ignores SIGTERM once the grace period is over', async () => {
    const fake = await neverServingBinary('ignores-sigterm', true);
    const startedAt = Date.now();
    const error = await rejectionOf(
      startDevServer({
        binary: fake.file,
        port: await findFreePort(),
        headless: true,
        startTimeoutMs: 1_000,
        stopGraceMs: 1_000,
      }),
    );
    expect(error).toBeInstanceOf(KvmCloneError);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2_000);
    expect(isProcessAlive(Number(await readFile(fake.pidFile, 'utf8')))).toBe(false);
  }, 20_000);

  it('fails when the binary does not exist', async () => {
    const error = await rejectionOf(
      startDevServer({ binary: path.join(scratch, 'no-temporal-here'), port: await findFreePort(), headless: true }),
    );
    expect(error).toBeInstanceOf(KvmCloneError);
    expect((error as KvmCloneError).message).toContain('ENOENT');
  });
});

describe('devServerArgs', () => {
  it('spells out every option for the CLI', () => {
    expect(
      devServerArgs({
        ip: '127.0.0.1',
        port: 7300,
        uiPort: 8300,
        dbFilename: '/var/lib/x.db',
        namespace: 'clones',
        logLevel: 'warn',
      }),
    ).toEqual([
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '7300',
      '--ui-port',
      '8300',
      '--db-filename',
      '/var/lib/x.db',
      '--namespace',
      'clones',
      '--log-level',
      'warn',
    ]);
  });

  it('runs headless without a UI port and leaves the built-in default namespace implicit', () => {
    expect(
      devServerArgs({
        ip: '::1',
        port: 7233,
        uiPort: undefined,
        dbFilename: undefined,
        namespace: 'default',
        logLevel: 'error',
      }),
    ).toEqual(['server', 'start-dev', '--ip', '::1', '--port', '7233', '--headless', '--log-level', 'error']);
  });
});
