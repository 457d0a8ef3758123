import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JumpHost } from '../domain/schemas/host';
import { ErrorCode, KvmCloneError } from '../errors';
import { needsPassphrase } from '../hosts/ssh-session';

/** A private ssh-agent holding the keys a command unlocked on its terminal; it ends with the command. */
export interface TerminalAgent {
  socket: string;
  stop(): Promise<void>;
}

const agentStartMs = 10_000;

/** The key files that `hosts` and their jump hosts authenticate with, where no agent of their own stands in. */
export function identityFilesOf(hosts: readonly JumpHost[]): string[] {
  const files = new Set<string>();
  const add = (host: JumpHost | undefined): void => {
    if (!host) return;
    if (host.identityFile && !host.agent) files.add(host.identityFile);
    add(host.jump);
  };
  hosts.forEach(add);
  return [...files];
}

/** Those of `files` with a passphrase. One that cannot be read is left to the connection, which names it (1101). */
async function lockedKeys(files: readonly string[]): Promise<string[]> {
  const locked = await Promise.all(
    files.map(async (file) => needsPassphrase(await readFile(file).catch(() => Buffer.alloc(0)))),
  );
  return files.filter((_, index) => locked[index]);
}

/**
 * Starts `ssh-agent -a SOCKET cat`: the agent lives while `cat` does, and `cat` while this process holds its stdin,
 * so the agent and the keys in it go when the command ends, even when it is killed.
 */
async function startAgent(): Promise<TerminalAgent> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-agent-'));
  const socket = path.join(dir, 'agent.sock');
  const child = spawn('ssh-agent', ['-a', socket, 'cat'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<string>((resolve) => {
    child.on('error', (error) => resolve(error.message));
    child.on('exit', (code) => resolve(`exit status ${code}`));
  });
  let ended: string | undefined;
  void exited.then((why) => (ended = why));
  const stop = async () => {
    // The agent notices within seconds that `cat` ended; its keys go at once.
    if (existsSync(socket)) await runQuietly('ssh-add', ['-D', '-q'], { ...process.env, SSH_AUTH_SOCK: socket });
    child.stdin.end();
    await rm(dir, { recursive: true, force: true });
  };
  for (let waited = 0; !existsSync(socket) && ended === undefined && waited < agentStartMs; waited += 20) {
    await sleep(20);
  }
  if (!existsSync(socket)) {
    await stop();
    throw new KvmCloneError(
      ErrorCode.SSH_KEY_ERROR,
      `ssh-agent did not start, so no key could be unlocked on the terminal: ${stderr.trim() || ended || 'no socket'}`,
    );
  }
  return { socket, stop };
}

/** Runs a command to its end, its output and failure ignored. */
function runQuietly(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', env });
    child.on('error', () => resolve());
    child.on('exit', () => resolve());
  });
}

/** Runs `ssh-add FILE` on the terminal: OpenSSH's own prompt asks for the passphrase. */
async function addKey(agent: TerminalAgent, file: string): Promise<void> {
  const child = spawn('ssh-add', ['-q', '--', file], {
    stdio: 'inherit',
    env: { ...process.env, SSH_AUTH_SOCK: agent.socket },
  });
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('exit', resolve);
  });
  if (code !== 0) {
    throw new KvmCloneError(
      ErrorCode.SSH_KEY_ERROR,
      `SSH key ${file} has a passphrase and was not unlocked (ssh-add ${code === null ? 'could not run' : `exited with ${code}`})`,
      { path: file },
    );
  }
}

/**
 * Asks on the terminal for the passphrases of the keys `hosts` use, as `ssh` does, when a command runs its own worker
 * and no agent could stand in for them. The keys go into a private agent through `ssh-add`, so the passphrase never
 * passes through kvm-clone; the worker reaches it by `socket`. Undefined when no key needs it, when an agent is there
 * already (it must hold the keys), or when nobody is at a terminal: the worker then says what to do (1101).
 */
export async function unlockKeysOnTerminal(
  hosts: readonly JumpHost[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  interactive = Boolean(process.stdin.isTTY),
): Promise<TerminalAgent | undefined> {
  if (!interactive || env.SSH_AUTH_SOCK) return undefined;
  const locked = await lockedKeys(identityFilesOf(hosts));
  if (locked.length === 0) return undefined;
  const agent = await startAgent();
  try {
    for (const file of locked) await addKey(agent, file);
  } catch (error) {
    await agent.stop();
    throw error;
  }
  return agent;
}
