import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Lab } from './lab';

const run = promisify(execFile);

/** An ed25519 key with a passphrase, in a temporary dir of its own. */
export interface PassphraseKey {
  dir: string;
  /** The private key file, encrypted with `passphrase`. */
  file: string;
  publicKey: string;
  passphrase: string;
}

/** `dir`: a new temporary dir when not given; the key is `<dir>/id_ed25519` (see passphraseKeyFile). */
export async function makePassphraseKey(dir?: string): Promise<PassphraseKey> {
  dir ??= await mkdtemp(path.join(tmpdir(), 'kvm-clone-passphrase-key-'));
  const file = passphraseKeyFile(dir);
  const passphrase = `lab-${Math.random().toString(36).slice(2)}`;
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'kvm-clone-lab-passphrase', '-f', file]);
  return { dir, file, publicKey: (await readFile(`${file}.pub`, 'utf8')).trim(), passphrase };
}

export function passphraseKeyFile(dir: string): string {
  return path.join(dir, 'id_ed25519');
}

/** Where startAgent(dir) puts the agent's socket. */
export function agentSocket(dir: string): string {
  return path.join(dir, 'agent.sock');
}

/** A private ssh-agent on a socket of its own; `stop()` ends it (by its pid) and removes the socket. */
export interface PrivateAgent {
  socket: string;
  pid: number;
  /** `ssh-add` of a key with a passphrase, without a terminal: the passphrase comes from an SSH_ASKPASS script. */
  add(key: PassphraseKey): Promise<void>;
  stop(): Promise<void>;
}

export async function startAgent(dir: string): Promise<PrivateAgent> {
  const socket = agentSocket(dir);
  // Without -D, ssh-agent returns once its socket listens, printing its pid.
  const { stdout } = await run('ssh-agent', ['-s', '-a', socket]);
  const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(stdout)?.[1]);
  if (!(pid > 0)) throw new Error(`ssh-agent printed no pid: ${stdout}`);
  return {
    socket,
    pid,
    async add(key) {
      const askpass = path.join(key.dir, 'askpass');
      await writeFile(askpass, `#!/bin/sh\nprintf '%s\\n' '${key.passphrase}'\n`);
      await chmod(askpass, 0o700);
      await run('ssh-add', [key.file], {
        env: {
          PATH: process.env.PATH,
          SSH_AUTH_SOCK: socket,
          SSH_ASKPASS: askpass,
          SSH_ASKPASS_REQUIRE: 'force',
          DISPLAY: ':0',
        },
      });
    },
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Gone already.
      }
      await rm(socket, { force: true });
    },
  };
}

/**
 * Lets `publicKey` log in to a lab host (its sshd's authorized_keys, written whole and renamed) until the returned
 * function takes it out again.
 */
export async function authorizeOnLabHost(lab: Lab, hostName: string, publicKey: string): Promise<() => Promise<void>> {
  const file = path.join(lab.file.labDir, 'sshd', hostName, 'authorized_keys');
  const rewrite = async (change: (lines: string[]) => string[]) => {
    const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
    await writeFile(`${file}.test`, `${change(lines).join('\n')}\n`, { mode: 0o644 });
    await rename(`${file}.test`, file);
  };
  await rewrite((lines) => [...lines.filter((line) => line !== publicKey), publicKey]);
  return () => rewrite((lines) => lines.filter((line) => line !== publicKey));
}
