import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { identityFilesOf, unlockKeysOnTerminal } from '../../../src/cli/key-unlock';
import type { JumpHost } from '../../../src/domain/schemas/host';
import { ErrorCode } from '../../../src/errors';

/** ssh-add asks this script instead of a terminal: it answers each prompt with the next line of `answers`. */
async function askpass(dir: string, answers: string[]): Promise<void> {
  const script = path.join(dir, 'askpass');
  await writeFile(path.join(dir, 'answers'), answers.map((answer) => `${answer}\n`).join(''));
  await writeFile(
    script,
    `#!/bin/sh\nn=$(cat ${dir}/asked 2>/dev/null || echo 0)\necho $((n + 1)) >${dir}/asked\nsed -n "$((n + 1))p" ${dir}/answers\n`,
  );
  await chmod(script, 0o755);
  vi.stubEnv('SSH_ASKPASS', script);
  vi.stubEnv('SSH_ASKPASS_REQUIRE', 'force');
  vi.stubEnv('DISPLAY', ':0');
}

function host(identityFile: string, extra: Partial<JumpHost> = {}): JumpHost {
  return { address: '10.0.0.1', port: 22, user: 'root', hostKeyPolicy: 'strict', identityFile, ...extra };
}

const noAgent = { SSH_AUTH_SOCK: undefined };
let dir: string;
let locked: string;
let plain: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-key-unlock-'));
  locked = path.join(dir, 'id_locked');
  plain = path.join(dir, 'id_plain');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right passphrase', '-f', locked]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', plain]);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe('identityFilesOf', () => {
  it('lists each key file once, jump hosts included, and none where a host names its own agent', () => {
    const jumped = host('/k/a', { jump: host('/k/jump', { jump: host('/k/a') }) });
    expect(identityFilesOf([jumped, host('/k/b'), host('/k/c', { agent: '/run/agent' })])).toEqual([
      '/k/a',
      '/k/jump',
      '/k/b',
    ]);
  });
});

describe('unlockKeysOnTerminal', () => {
  it('adds a key with a passphrase to a private agent through ssh-add, which ends when stopped', async () => {
    await askpass(dir, ['right passphrase']);
    const agent = await unlockKeysOnTerminal([host(locked), host(plain)], noAgent, true);
    expect(agent).toBeDefined();
    try {
      const listed = execFileSync('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: agent!.socket } });
      // Only the locked key: the other needs no agent.
      expect(listed.toString().trim().split('\n')).toHaveLength(1);
      expect(listed.toString()).toContain(
        execFileSync('ssh-keygen', ['-l', '-f', `${locked}.pub`])
          .toString()
          .split(' ')[1],
      );
      const socket = agent!.socket;
      await agent!.stop();
      expect(existsSync(socket)).toBe(false);
    } finally {
      await agent!.stop();
    }
  });

  it('fails with 1101 naming the key when the passphrase is wrong and then none is given', async () => {
    await askpass(dir, ['wrong passphrase', '']);
    await expect(unlockKeysOnTerminal([host(locked)], noAgent, true)).rejects.toMatchObject({
      code: ErrorCode.SSH_KEY_ERROR,
      message: expect.stringContaining(`SSH key ${locked} has a passphrase and was not unlocked (ssh-add exited with`),
    });
  });

  it('asks nothing without a terminal, with an agent already there, or when no key is locked', async () => {
    await askpass(dir, ['right passphrase']);
    expect(await unlockKeysOnTerminal([host(locked)], noAgent, false)).toBeUndefined();
    expect(await unlockKeysOnTerminal([host(locked)], { SSH_AUTH_SOCK: '/run/agent' }, true)).toBeUndefined();
    expect(await unlockKeysOnTerminal([host(plain), host(path.join(dir, 'missing'))], noAgent, true)).toBeUndefined();
    expect(existsSync(path.join(dir, 'asked'))).toBe(false);
  });
});
