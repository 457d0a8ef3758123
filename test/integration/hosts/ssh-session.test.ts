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
    await expect(openSshSession(spec({ identityFile: '/nonexistent/id_ed25519' }))).rejects.toMatchObject({ code: ErrorCode.SSH_KEY_ERROR });
  });

  it('reports a closed port with code 1002', async () => {
    await expect(openSshSession(spec({ port: 2299 }))).rejects.toMatchObject({ code: ErrorCode.CONNECTION_ERROR });
  });
});
