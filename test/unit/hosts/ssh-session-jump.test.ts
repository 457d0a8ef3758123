import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Server, utils, type Connection } from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostSpecSchema, type HostSpecInput } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { authenticationFor, openSshSession } from '../../../src/hosts/ssh-session';

/**
 * Two in-process SSH servers: a jump host and a target that only the jump host can reach,
 * under a name (`target.internal`) the worker cannot resolve. A session that runs a
 * command on the target therefore went through the jump host's forwarded channel.
 */
interface TestServer {
  port: number;
  publicKey: string;
  connections: Connection[];
  closed: number;
  stop(): Promise<void>;
}

let dir: string;
let identityFile: string;
let clientPublic: Buffer;
let servers: TestServer[];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-ssh-jump-test-'));
  const keys = utils.generateKeyPairSync('ed25519');
  identityFile = path.join(dir, 'id_ed25519');
  await writeFile(identityFile, keys.private, { mode: 0o600 });
  clientPublic = (utils.parseKey(keys.public) as { getPublicSSH(): Buffer }).getPublicSSH();
  servers = [];
});

afterEach(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function startServer(
  name: string,
  options: { forwardTo?: Record<string, number>; prohibitForwarding?: boolean } = {},
): Promise<TestServer> {
  const hostKeys = utils.generateKeyPairSync('ed25519');
  const state: TestServer = {
    port: 0,
    publicKey: hostKeys.public,
    connections: [],
    closed: 0,
    stop: async () => undefined,
  };
  const server = new Server({ hostKeys: [hostKeys.private] }, (client) => {
    state.connections.push(client);
    client.on('close', () => (state.closed += 1));
    client.on('error', () => undefined);
    client.on('authentication', (context) => {
      if (context.method === 'publickey' && context.key.data.equals(clientPublic)) context.accept();
      else context.reject(['publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        acceptSession().on('exec', (accept, _reject, info) => {
          const channel = accept();
          channel.write(`${name} ran ${info.command}\n`);
          channel.exit(0);
          channel.end();
        });
      });
      // Without a listener, ssh2 answers "administratively prohibited", as sshd with AllowTcpForwarding no.
      if (options.prohibitForwarding) return;
      client.on('tcpip', (accept, reject, info) => {
        const port = options.forwardTo?.[info.destIP];
        if (port === undefined) {
          reject();
          return;
        }
        const channel = accept();
        const socket = netConnect(port, '127.0.0.1');
        socket.on('error', () => channel.close());
        channel.pipe(socket).pipe(channel);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.stop = () =>
    new Promise<void>((resolve) => {
      for (const connection of state.connections) connection.end();
      server.close(() => resolve());
    });
  servers.push(state);
  return state;
}

function knownHostsLine(name: string, port: number, publicKey: string): string {
  return `[${name}]:${port} ${publicKey.trim().split(/\s+/).slice(0, 2).join(' ')}\n`;
}

async function twoHops(options: { prohibitForwarding?: boolean } = {}) {
  const target = await startServer('target');
  const jump = await startServer('jump', { forwardTo: { 'target.internal': target.port }, ...options });
  const knownHostsFile = path.join(dir, 'known_hosts');
  const spec: HostSpecInput = {
    address: 'target.internal',
    port: target.port,
    identityFile,
    knownHostsFile,
    jump: { address: '127.0.0.1', port: jump.port, identityFile, knownHostsFile },
  };
  return { target, jump, knownHostsFile, spec };
}

async function openFailure(spec: HostSpecInput): Promise<KvmCloneError> {
  const error = await openSshSession(hostSpecSchema.parse(spec), { readyTimeoutMs: 5_000 }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(KvmCloneError);
  return error as KvmCloneError;
}

async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 100 && !condition(); tries += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(condition()).toBe(true);
}

describe('openSshSession through a jump host (ProxyJump)', () => {
  it('runs commands on the target over a channel the jump host forwards, and closes both connections', async () => {
    const { target, jump, knownHostsFile, spec } = await twoHops();
    await writeFile(
      knownHostsFile,
      knownHostsLine('127.0.0.1', jump.port, jump.publicKey) +
        knownHostsLine('target.internal', target.port, target.publicKey),
    );
    const session = await openSshSession(hostSpecSchema.parse(spec), { readyTimeoutMs: 5_000 });
    expect(await session.run(sh`hostname`)).toBe('target ran hostname\n');
    expect(session.host.address).toBe('target.internal');
    session.close();
    await until(() => jump.closed === 1 && target.closed === 1);
  });

  it('records both host keys under accept-new, each under its own name', async () => {
    const { target, jump, knownHostsFile, spec } = await twoHops();
    const session = await openSshSession(
      hostSpecSchema.parse({
        ...spec,
        hostKeyPolicy: 'accept-new',
        jump: { ...(spec.jump as object), hostKeyPolicy: 'accept-new' },
      }),
      { readyTimeoutMs: 5_000 },
    );
    session.close();
    const recorded = await readFile(knownHostsFile, 'utf8');
    expect(recorded).toContain(`[127.0.0.1]:${jump.port} ssh-ed25519 `);
    expect(recorded).toContain(`[target.internal]:${target.port} ssh-ed25519 `);
  });

  it("refuses the target's unknown host key (1103, naming the target) and closes the jump connection", async () => {
    const { jump, knownHostsFile, spec } = await twoHops();
    await writeFile(knownHostsFile, knownHostsLine('127.0.0.1', jump.port, jump.publicKey));
    const error = await openFailure(spec);
    expect(error.code).toBe(ErrorCode.HOST_KEY_ERROR);
    expect(error.message).toMatch(/^host key of \[target\.internal\]:\d+ is not in /);
    await until(() => jump.closed === 1);
  });

  it("refuses the jump host's unknown host key (1103) before reaching the target", async () => {
    const { target, spec } = await twoHops();
    const error = await openFailure(spec);
    expect(error.code).toBe(ErrorCode.HOST_KEY_ERROR);
    expect(error.message).toMatch(/^host key of \[127\.0\.0\.1\]:\d+ is not in /);
    expect(target.connections).toHaveLength(0);
  });

  it('reports a jump host that does not forward as a non-retryable connection error naming AllowTcpForwarding', async () => {
    const { target, jump, knownHostsFile, spec } = await twoHops({ prohibitForwarding: true });
    await writeFile(knownHostsFile, knownHostsLine('127.0.0.1', jump.port, jump.publicKey));
    const error = await openFailure(spec);
    expect(error.code).toBe(ErrorCode.CONNECTION_ERROR);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(
      /^root@\[127\.0\.0\.1\]:\d+ \(jump host\) cannot reach root@\[target\.internal\]:\d+: .*AllowTcpForwarding/,
    );
    expect(target.connections).toHaveLength(0);
    await until(() => jump.closed === 1);
  });

  it('reports a target the jump host cannot reach as a retryable connection error', async () => {
    const { jump, knownHostsFile, spec } = await twoHops();
    await writeFile(knownHostsFile, knownHostsLine('127.0.0.1', jump.port, jump.publicKey));
    const error = await openFailure({ ...spec, address: 'elsewhere.internal' });
    expect(error.code).toBe(ErrorCode.CONNECTION_ERROR);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('(jump host) cannot reach root@[elsewhere.internal]');
  });

  it('says why a host known only through @cert-authority is refused', async () => {
    const { jump, knownHostsFile, spec } = await twoHops();
    const ca = utils.generateKeyPairSync('ed25519').public.trim();
    await writeFile(
      knownHostsFile,
      knownHostsLine('127.0.0.1', jump.port, jump.publicKey) + `@cert-authority [*.internal]:* ${ca}\n`,
    );
    const error = await openFailure(spec);
    expect(error.code).toBe(ErrorCode.HOST_KEY_ERROR);
    expect(error.message).toContain('trusts it only through @cert-authority');
    expect(error.message).toContain('cannot negotiate host certificates');
  });
});

describe('keys with a passphrase', () => {
  function encryptedKey(): string {
    const file = path.join(dir, 'id_encrypted');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-C', '', '-f', file]);
    return file;
  }

  const host = (identity: string) =>
    hostSpecSchema.parse({ address: 'kvm1.example.com', identityFile: identity }) as ReturnType<
      typeof hostSpecSchema.parse
    >;

  it('uses the SSH agent instead, where ssh-add put the key', async () => {
    const identity = encryptedKey();
    expect(await authenticationFor(host(identity), { SSH_AUTH_SOCK: '/run/agent.sock' })).toEqual({
      agent: '/run/agent.sock',
      agentForKey: identity,
    });
    expect(await authenticationFor({ ...host(identity), agent: '/run/other.sock' }, {})).toMatchObject({
      agent: '/run/other.sock',
    });
  });

  it('fails with 1101 saying to add it to an agent when there is none', async () => {
    const identity = encryptedKey();
    const error = await authenticationFor(host(identity), {}).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: ErrorCode.SSH_KEY_ERROR,
      message: `root@kvm1.example.com: SSH key ${identity} has a passphrase and no SSH agent is available: add the key to an agent (ssh-add ${identity}) that the worker reaches through SSH_AUTH_SOCK`,
    });
  });

  it('reads a key without a passphrase itself, even with an agent present', async () => {
    const auth = await authenticationFor(host(identityFile), { SSH_AUTH_SOCK: '/run/agent.sock' });
    expect(auth.privateKey).toBeInstanceOf(Buffer);
    expect(auth).not.toHaveProperty('agent');
  });

  it('names the agent in the authentication failure when it stood in for the key', async () => {
    const target = await startServer('target');
    const knownHostsFile = path.join(dir, 'known_hosts');
    await writeFile(knownHostsFile, knownHostsLine('127.0.0.1', target.port, target.publicKey));
    const identity = encryptedKey();
    const saved = process.env.SSH_AUTH_SOCK;
    // An agent that holds no key: a socket path nothing listens on fails authentication the same way.
    process.env.SSH_AUTH_SOCK = path.join(dir, 'agent.sock');
    try {
      const error = await openFailure({
        address: '127.0.0.1',
        port: target.port,
        identityFile: identity,
        knownHostsFile,
      });
      expect(error.code).toBe(ErrorCode.AUTH_ERROR);
      expect(error.message).toContain(
        `tried the SSH agent, since key ${identity} has a passphrase; the agent failed: `,
      );
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
    }
  });
});
