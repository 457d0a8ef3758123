import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { ErrorCode } from '../../../src/errors';
import { openSshSession } from '../../../src/hosts/ssh-session';
import { Lab } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));

const tempDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempKnownHosts(content: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-known-hosts-'));
  tempDirs.push(dir);
  const file = path.join(dir, 'known_hosts');
  await writeFile(file, content);
  return file;
}

function spec(overrides: Record<string, unknown>) {
  return hostSpecSchema.parse({ ...lab.hostSpec('a'), ...overrides });
}

describe('SSH sessions to a lab host', () => {
  it('connects when the host key is in known_hosts and runs a command', async () => {
    const session = await openSshSession(spec({}));
    try {
      expect((await session.run(sh`echo ${"it's"} ok`)).trim()).toBe("it's ok");
    } finally {
      session.close();
    }
  });

  it('refuses an unknown host key with code 1103 under the strict policy', async () => {
    const knownHostsFile = await tempKnownHosts('');
    await expect(openSshSession(spec({ knownHostsFile }))).rejects.toMatchObject({
      code: ErrorCode.HOST_KEY_ERROR,
      message: expect.stringContaining('is not in'),
    });
  });

  it('refuses a changed host key with code 1103 even under accept-new', async () => {
    // Host b's key filed under host a's name: what a man in the middle would present.
    const known = await readFile(lab.file.knownHostsFile, 'utf8');
    const keyOfB = known
      .split('\n')
      .find((line) => line.startsWith('[127.0.0.3]:2222'))!
      .split(' ')
      .slice(1)
      .join(' ');
    const knownHostsFile = await tempKnownHosts(`[127.0.0.2]:2222 ${keyOfB}\n`);
    await expect(openSshSession(spec({ knownHostsFile, hostKeyPolicy: 'accept-new' }))).rejects.toMatchObject({
      code: ErrorCode.HOST_KEY_ERROR,
      message: expect.stringContaining('CHANGED'),
    });
  });

  it('records an unknown key under accept-new and trusts it from then on', async () => {
    const knownHostsFile = await tempKnownHosts('');
    const session = await openSshSession(spec({ knownHostsFile, hostKeyPolicy: 'accept-new' }));
    session.close();
    const recorded = await readFile(knownHostsFile, 'utf8');
    expect(recorded).toMatch(/^\[127\.0\.0\.2\]:2222 ssh-ed25519 /);
    const strictAgain = await openSshSession(spec({ knownHostsFile }));
    strictAgain.close();
  });

  it('reports a wrong user with code 1100 and a missing key file with code 1101', async () => {
    await expect(openSshSession(spec({ user: 'kvmlab-b' }))).rejects.toMatchObject({ code: ErrorCode.AUTH_ERROR });
    await expect(openSshSession(spec({ identityFile: '/nonexistent/id_ed25519' }))).rejects.toMatchObject({
      code: ErrorCode.SSH_KEY_ERROR,
    });
  });

  it('reports a closed port with code 1002', async () => {
    await expect(openSshSession(spec({ port: 2299 }))).rejects.toMatchObject({ code: ErrorCode.CONNECTION_ERROR });
  });
});

describe('limits on remote commands run on a lab host', () => {
  it('attack: a command flooding stdout fails with 1000 at the cap, and the worker keeps its memory', async () => {
    const session = await openSshSession(spec({}));
    try {
      const before = process.memoryUsage().rss;
      // Endless output, as a host that has been taken over could send in answer to any listing.
      const error = await session
        .exec(sh`cat /dev/zero`, { maxStdoutBytes: 8 * 1024 * 1024 })
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({
        code: ErrorCode.GENERAL_ERROR,
        message: expect.stringContaining("'cat /dev/zero' printed more than 8388608 bytes on stdout"),
      });
      expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
      // The session still runs commands afterwards.
      expect((await session.run(sh`echo still here`)).trim()).toBe('still here');
    } finally {
      session.close();
    }
  });

  it('attack: a command that hangs times out with 1002, and the remote process is stopped', async () => {
    const session = await openSshSession(spec({}));
    try {
      // An unusual duration, so that pgrep finds this sleep and no other.
      const error = await session.exec(sh`sleep 6173`, { timeoutMs: 1_000 }).catch((caught: unknown) => caught);
      expect(error).toMatchObject({
        code: ErrorCode.CONNECTION_ERROR,
        message: expect.stringContaining("'sleep 6173' did not finish within 1 s"),
      });
      let left = '';
      for (let attempt = 0; attempt < 20; attempt++) {
        // The bracket keeps pgrep from finding the shell that runs it.
        left = (await session.exec(sh`pgrep -f ${'^slee[p] 6173$'} || true`)).stdout.toString().trim();
        if (left === '') break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(left).toBe('');
    } finally {
      session.close();
    }
  });

  it('keeps the first 64 KiB of a flood on stderr, with a note', async () => {
    const session = await openSshSession(spec({}));
    try {
      const result = await session.exec(sh`head -c 1000000 /dev/zero | tr -c x e >&2; exit 4`);
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toMatch(/^e{65536}\n\[stderr truncated: 934464 more bytes\]$/);
    } finally {
      session.close();
    }
  });
});
