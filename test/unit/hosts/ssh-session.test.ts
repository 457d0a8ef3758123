import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostSpecSchema, type HostSpecInput } from '../../../src/domain/schemas/host';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { openSshSession } from '../../../src/hosts/ssh-session';

let dir: string;
let knownHostsFile: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-ssh-session-test-'));
  knownHostsFile = path.join(dir, 'known_hosts');
  await writeFile(knownHostsFile, '');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function openFailure(spec: HostSpecInput, env: { SSH_AUTH_SOCK?: string } = {}): Promise<KvmCloneError> {
  const saved = process.env.SSH_AUTH_SOCK;
  if (env.SSH_AUTH_SOCK === undefined) delete process.env.SSH_AUTH_SOCK;
  else process.env.SSH_AUTH_SOCK = env.SSH_AUTH_SOCK;
  try {
    const error = await openSshSession(hostSpecSchema.parse(spec), { readyTimeoutMs: 5_000 }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(KvmCloneError);
    return error as KvmCloneError;
  } finally {
    if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = saved;
  }
}

describe('openSshSession before any byte reaches the host', () => {
  it('refuses to connect without an identity file or an SSH agent', async () => {
    const error = await openFailure({ address: '127.0.0.1', knownHostsFile });
    expect(error.code).toBe(ErrorCode.SSH_KEY_ERROR);
    expect(error.message).toBe('root@127.0.0.1: no identity file configured and no SSH agent (SSH_AUTH_SOCK) available');
  });

  it('fails with the SSH key code for a key file it cannot parse', async () => {
    const identityFile = path.join(dir, 'id_ed25519');
    await writeFile(identityFile, 'not a key\n', { mode: 0o600 });
    const error = await openFailure({ address: '127.0.0.1', port: await closedPort(), identityFile, knownHostsFile });
    expect(error.code).toBe(ErrorCode.SSH_KEY_ERROR);
    expect(error.message).toMatch(/^root@\[127\.0\.0\.1\]:\d+: unusable SSH key: Cannot parse privateKey/);
  });

  it('fails with the host key code when known_hosts exists but cannot be read', async () => {
    const error = await openFailure({ address: '127.0.0.1', knownHostsFile: dir, agent: '/nonexistent/agent.sock' });
    expect(error.code).toBe(ErrorCode.HOST_KEY_ERROR);
    expect(error.message).toMatch(new RegExp(`^known_hosts file ${dir} cannot be read: EISDIR`));
  });

  it('uses the agent named by SSH_AUTH_SOCK, and reports a refused connection as a connection error', async () => {
    const port = await closedPort();
    const error = await openFailure({ address: '127.0.0.1', port, knownHostsFile }, { SSH_AUTH_SOCK: path.join(dir, 'agent.sock') });
    expect(error.code).toBe(ErrorCode.CONNECTION_ERROR);
    expect(error.message).toBe(`root@[127.0.0.1]:${port}: cannot connect: ECONNREFUSED`);
  });
});
