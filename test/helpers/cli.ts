import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { stopServerProcess } from '../../src/temporal/dev-server';
import { findFreePort } from '../../src/temporal/free-port';
import type { Lab } from './lab';

const run = promisify(execFile);
export const bin = path.resolve(__dirname, '../../bin/kvm-clone');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI binary (dist/, built by scripts/setup) to completion. */
export async function kvmClone(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run('node', [bin, ...args], {
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Starts the CLI as a long-running process (worker, server, follow), collecting its output. */
export function spawnKvmClone(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; output: { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const child = spawn('node', [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (output.stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

/** Waits until `check` holds, polling; fails with `what` after the timeout. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The lab's config (hosts a and b) plus a temporal section, written with mode 600. */
export async function writeLabConfig(
  lab: Lab,
  file: string,
  temporal: { address?: string; taskQueue?: string } = {},
): Promise<string> {
  const hosts = await readFile(path.join(lab.file.labDir, 'config.yaml'), 'utf8');
  const lines = Object.entries(temporal).map(([key, value]) => `  ${key}: ${value}\n`);
  await writeFile(file, `${hosts}${lines.length ? `temporal:\n${lines.join('')}` : ''}`, { mode: 0o600 });
  return file;
}

export function jsonLines(stdout: string): { type: string }[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { type: string });
}

/**
 * The environment of CLI runs that start their own embedded server, kept inside `dir`: a home whose ~/.ssh/config is
 * `sshConfig`, no SSH agent, the state dir, and free ports for the server and its UI.
 */
export async function embeddedCliEnv(dir: string, sshConfig: string): Promise<NodeJS.ProcessEnv> {
  const home = path.join(dir, 'home');
  await mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(home, '.ssh', 'config'), sshConfig, { mode: 0o600 });
  return {
    HOME: home,
    SSH_AUTH_SOCK: '',
    XDG_STATE_HOME: path.join(dir, 'state'),
    KVM_CLONE_EMBEDDED_PORT: String(await findFreePort()),
    KVM_CLONE_EMBEDDED_UI_PORT: String(await findFreePort()),
  };
}

/** Stops the embedded server that CLI runs with embeddedCliEnv(dir) left running, if any. */
export async function stopEmbeddedServer(dir: string): Promise<void> {
  const pid = Number(await readFile(path.join(dir, 'state', 'kvm-clone', 'temporal.pid'), 'utf8').catch(() => ''));
  if (pid > 0) await stopServerProcess(pid);
}
