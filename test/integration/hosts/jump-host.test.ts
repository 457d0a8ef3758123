/**
 * SSH sessions to lab hosts the way OpenSSH users reach real ones: through the lab's jump
 * host (scripts/lab/up-jump), given as a host's `jump` or as ~/.ssh/config's ProxyJump, and
 * with a key that has a passphrase, used through an ssh-agent. The jump host's sshd log is
 * the proof that a connection went through it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hostSpecSchema, parseHostReference, type HostReference } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { ErrorCode } from '../../../src/errors';
import { resolveSshHost } from '../../../src/hosts/ssh-config';
import { workerSshEnvironment } from '../../../src/hosts/ssh-config-files';
import { openSshSession } from '../../../src/hosts/ssh-session';
import { Lab } from '../../helpers/lab';
import {
  authorizeOnLabHost,
  makePassphraseKey,
  startAgent,
  type PassphraseKey,
  type PrivateAgent,
} from '../../helpers/ssh-agent';

const lab = new Lab(inject('labFile'));
const targetOfB = `target ${lab.host('b').address} port ${lab.host('b').port}`;

async function whoamiOn(spec: Parameters<typeof openSshSession>[0]): Promise<string> {
  const session = await openSshSession(spec);
  try {
    return (await session.run(sh`id -un`)).trim();
  } finally {
    session.close();
  }
}

describe('a lab host behind the jump host', () => {
  it("is reached through a host's `jump`, and the jump host forwarded the connection to it", async () => {
    const logFrom = await lab.jumpLogSize();
    expect(await whoamiOn(hostSpecSchema.parse(lab.hostSpec('b', { jump: lab.jumpHost() })))).toBe('kvmlab-b');
    expect(await lab.jumpLogSince(logFrom)).toContain(`server_request_direct_tcpip: originator`);
    expect(await lab.jumpLogSince(logFrom)).toContain(targetOfB);
  });

  it('fails with 1002 naming the jump host when it does not allow TCP forwarding', async () => {
    const logFrom = await lab.jumpLogSize();
    const spec = hostSpecSchema.parse(lab.hostSpec('b', { jump: lab.jumpHost({ forwarding: false }) }));
    await expect(openSshSession(spec)).rejects.toMatchObject({
      code: ErrorCode.CONNECTION_ERROR,
      retryable: false,
      message: expect.stringMatching(
        /^kvmlab-jump@\[127\.0\.0\.20\]:2223 \(jump host\) cannot reach kvmlab-b@\[127\.0\.0\.3\]:2222: .*AllowTcpForwarding/,
      ),
      details: { jumpHost: 'kvmlab-jump@[127.0.0.20]:2223', host: 'kvmlab-b@[127.0.0.3]:2222' },
    });
    expect(await lab.jumpLogSince(logFrom)).toContain(`refused local port forward: originator`);
  });

  it("fails with 1103 when the jump host's key is unknown, before anything is forwarded", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-jump-known-'));
    try {
      const knownHostsFile = path.join(dir, 'known_hosts');
      await writeFile(knownHostsFile, '');
      const spec = hostSpecSchema.parse(lab.hostSpec('b', { jump: { ...lab.jumpHost(), knownHostsFile } }));
      await expect(openSshSession(spec)).rejects.toMatchObject({
        code: ErrorCode.HOST_KEY_ERROR,
        message: expect.stringContaining('127.0.0.20'),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("a lab host behind the jump host, from ~/.ssh/config's ProxyJump", () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'kvm-clone-jump-home-'));
    await mkdir(path.join(home, '.ssh'), { mode: 0o700 });
    await writeFile(path.join(home, '.ssh', 'config'), lab.sshConfigBehindJump('lab-b', 'b'), { mode: 0o600 });
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  function resolve(reference: string) {
    const environment = workerSshEnvironment({
      home,
      env: {},
      configFiles: [{ file: path.join(home, '.ssh', 'config'), includeDir: path.join(home, '.ssh') }],
    });
    return resolveSshHost(parseHostReference(reference) as HostReference, environment);
  }

  it('resolves the chain and connects through it', async () => {
    const spec = resolve('lab-b');
    expect(spec).toMatchObject({
      address: '127.0.0.3',
      user: 'kvmlab-b',
      jump: { address: '127.0.0.20', port: 2222, user: 'kvmlab-jump', identityFile: lab.file.identityFile },
    });
    const logFrom = await lab.jumpLogSize();
    expect(await whoamiOn(spec)).toBe('kvmlab-b');
    expect(await lab.jumpLogSince(logFrom)).toContain(targetOfB);
  });
});

describe('a key with a passphrase', () => {
  let key: PassphraseKey;
  let agent: PrivateAgent;
  let unauthorize: (() => Promise<void>) | undefined;
  const savedAuthSock = process.env.SSH_AUTH_SOCK;

  beforeAll(async () => {
    // The worker's own agent, if its environment has one, must not stand in for the test's.
    delete process.env.SSH_AUTH_SOCK;
    key = await makePassphraseKey();
    agent = await startAgent(key.dir);
    unauthorize = await authorizeOnLabHost(lab, 'b', key.publicKey);
  });
  afterAll(async () => {
    await unauthorize?.();
    await agent?.stop();
    if (key) await rm(key.dir, { recursive: true, force: true });
    if (savedAuthSock === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = savedAuthSock;
  });

  const withKey = (overrides: Record<string, unknown> = {}) =>
    hostSpecSchema.parse(lab.hostSpec('b', { identityFile: key.file, ...overrides }));

  it('fails with 1101 telling to ssh-add it when no agent is available', async () => {
    await expect(openSshSession(withKey())).rejects.toMatchObject({
      code: ErrorCode.SSH_KEY_ERROR,
      message: expect.stringContaining(`has a passphrase and no SSH agent is available`),
    });
    await expect(openSshSession(withKey())).rejects.toMatchObject({
      message: expect.stringContaining(`ssh-add ${key.file}`),
    });
  });

  it('fails with 1100 when the agent does not hold it', async () => {
    await expect(openSshSession(withKey({ agent: agent.socket }))).rejects.toMatchObject({
      code: ErrorCode.AUTH_ERROR,
      message: expect.stringContaining(`tried the SSH agent, since key ${key.file} has a passphrase`),
    });
  });

  it('is used through the agent once ssh-add put it there, directly and through the jump host', async () => {
    await agent.add(key);
    expect(await whoamiOn(withKey({ agent: agent.socket }))).toBe('kvmlab-b');

    // The jump host knows nothing of the key: the worker authenticates to it with its own, to b with the agent's.
    const logFrom = await lab.jumpLogSize();
    expect(await whoamiOn(withKey({ agent: agent.socket, jump: lab.jumpHost() }))).toBe('kvmlab-b');
    expect(await lab.jumpLogSince(logFrom)).toContain(targetOfB);
  });

  it('is taken from SSH_AUTH_SOCK when the host names no agent', async () => {
    await agent.add(key);
    process.env.SSH_AUTH_SOCK = agent.socket;
    try {
      expect(await whoamiOn(withKey())).toBe('kvmlab-b');
    } finally {
      delete process.env.SSH_AUTH_SOCK;
    }
  });
});
