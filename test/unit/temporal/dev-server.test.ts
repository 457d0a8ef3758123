import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { startDevServer, stopServerProcess } from '../../../src/temporal/dev-server';
import { findFreePort } from '../../../src/temporal/free-port';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-dev-server-test-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A `temporal` that prints what it was asked to do and why it cannot, then exits 3. */
async function failingTemporal(): Promise<string> {
  const file = path.join(root, 'temporal');
  await writeFile(file, '#!/bin/sh\necho "args: $*"\necho "boom: cannot open the database" >&2\nexit 3\n');
  await chmod(file, 0o755);
  return file;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startDevServer when the server does not start', () => {
  it('fails with the exit status and the tail of its log file', async () => {
    const port = await findFreePort();
    const logFile = path.join(root, 'temporal.log');
    const error = await startDevServer({
      binary: await failingTemporal(),
      port,
      headless: true,
      logFile,
      startTimeoutMs: 10_000,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KvmCloneError);
    const failure = error as KvmCloneError;
    expect(failure.code).toBe(ErrorCode.GENERAL_ERROR);
    expect(failure.message).toMatch(
      new RegExp(
        `^Temporal dev server at 127\\.0\\.0\\.1:${port} did not start: the server process ended \\(exit code 3\\)\\n--- server output \\(last lines\\) ---\\n`,
      ),
    );
    expect(failure.message).toContain(
      `args: server start-dev --ip 127.0.0.1 --port ${port} --headless --log-level error`,
    );
    expect(failure.message).toContain('boom: cannot open the database');
    expect(failure.details).toMatchObject({ address: `127.0.0.1:${port}`, logFile });
  });

  it('tells clients to use loopback for a wildcard bind address', async () => {
    const port = await findFreePort();
    const error = (await startDevServer({ binary: await failingTemporal(), ip: '0.0.0.0', port, headless: true }).catch(
      (caught: unknown) => caught,
    )) as KvmCloneError;
    expect(error.message).toContain(`Temporal dev server at 127.0.0.1:${port} did not start`);
    // Without a log file, the output kept in memory is the tail.
    expect(error.message).toContain(`args: server start-dev --ip 0.0.0.0 --port ${port}`);
  });
});

describe('stopServerProcess', () => {
  it('kills a process that ignores SIGTERM once the grace is over, and returns at once for one that is gone', async () => {
    const child = spawn(
      process.execPath,
      ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);"],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    const started = Date.now();
    await stopServerProcess(child.pid!, 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await exited).toBe('SIGKILL');
    expect(alive(child.pid!)).toBe(false);

    const again = Date.now();
    await stopServerProcess(child.pid!, 5_000);
    expect(Date.now() - again).toBeLessThan(1_000);
  });
});
