import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'ssh2';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hostSpecSchema, type HostSpecInput } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { openSshSession, SshSession } from '../../../src/hosts/ssh-session';

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
    expect(error.message).toBe(
      'root@127.0.0.1: no identity file configured and no SSH agent (SSH_AUTH_SOCK) available',
    );
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
    const error = await openFailure(
      { address: '127.0.0.1', port, knownHostsFile },
      { SSH_AUTH_SOCK: path.join(dir, 'agent.sock') },
    );
    expect(error.code).toBe(ErrorCode.CONNECTION_ERROR);
    expect(error.message).toBe(`root@[127.0.0.1]:${port}: cannot connect: ECONNREFUSED`);
  });
});

/**
 * An ssh2 channel as far as SshSession uses it: 'data' for stdout, `stderr` for stderr,
 * 'exit' then 'close' when the command ends. `signals` and `closed` record how it was stopped.
 */
class FakeChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  readonly signals: string[] = [];
  closed = false;
  stdin: string | Buffer | undefined;
  /** ssh2's internals that a signal request goes through. */
  readonly outgoing = { id: 7, state: 'open' };
  readonly _client = { _protocol: { signal: (id: number, name: string) => this.signals.push(`${id}:${name}`) } };

  /** `holdOpen`: a server that ignores signals keeps the channel until the command exits. */
  constructor(private readonly holdOpen = false) {
    super();
  }

  end(stdin?: string | Buffer): void {
    this.stdin = stdin;
    this.outgoing.state = 'eof';
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.outgoing.state = 'closing';
    if (!this.holdOpen) setImmediate(() => this.emit('close'));
  }

  /** The command ends on its own with `code`. */
  finish(code: number): void {
    this.emit('exit', code);
    this.close();
  }
}

/** A session over a fake client whose next command gets `channel`; `play` acts the command. */
function fakeSession(
  play: (channel: FakeChannel) => void,
  holdOpen = false,
): { session: SshSession; channel: FakeChannel } {
  const channel = new FakeChannel(holdOpen);
  const client = Object.assign(new EventEmitter(), {
    exec: (_command: string, callback: (error: Error | undefined, channel: FakeChannel) => void) => {
      callback(undefined, channel);
      setImmediate(() => play(channel));
    },
    end: () => undefined,
  });
  return {
    session: new SshSession(hostSpecSchema.parse({ address: '10.0.0.9' }), client as unknown as Client),
    channel,
  };
}

describe('SshSession.exec limits', () => {
  it('returns stdout, capped stderr and the exit status of a command within its limits', async () => {
    const { session, channel } = fakeSession((fake) => {
      fake.emit('data', Buffer.from('hello '));
      fake.emit('data', Buffer.from('world'));
      fake.stderr.emit('data', Buffer.from('x'.repeat(100)));
      fake.finish(3);
    });
    const result = await session.exec(sh`echo hello world`, { stdin: 'input', maxStderrBytes: 10 });
    expect(result.stdout.toString()).toBe('hello world');
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toBe(`${'x'.repeat(10)}\n[stderr truncated: 90 more bytes]`);
    expect(channel.stdin).toBe('input');
  });

  it('attack: a command flooding stdout past the cap fails with 1000 naming the command, and is stopped', async () => {
    const { session, channel } = fakeSession((fake) => {
      // Keeps printing until stopped, as `yes` would.
      const flood = setInterval(() => {
        if (fake.closed) clearInterval(flood);
        else fake.emit('data', Buffer.alloc(4096, 0x79));
      }, 0);
    });
    const error = await session.exec(sh`yes`, { maxStdoutBytes: 10_000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KvmCloneError);
    expect((error as KvmCloneError).code).toBe(ErrorCode.GENERAL_ERROR);
    expect((error as KvmCloneError).retryable).toBe(false);
    expect((error as KvmCloneError).message).toBe(
      "root@10.0.0.9: 'yes' printed more than 10000 bytes on stdout, more than any answer it should give; stopped it",
    );
    expect(channel.signals).toEqual(['7:TERM']);
    expect(channel.closed).toBe(true);
  });

  it('a run() past the cap fails the same way, named by its `what`', async () => {
    const { session } = fakeSession((fake) => {
      fake.emit('data', Buffer.alloc(2048));
      fake.finish(0);
    });
    await expect(
      session.run(sh`virsh dumpxml --domain web01`, { what: 'virsh dumpxml', maxStdoutBytes: 1024 }),
    ).rejects.toMatchObject({
      code: ErrorCode.GENERAL_ERROR,
      message:
        "root@10.0.0.9: 'virsh dumpxml' printed more than 1024 bytes on stdout, more than any answer it should give; stopped it",
    });
  });

  it('attack: a command that hangs is stopped at its timeout with 1002 naming the command', async () => {
    const { session, channel } = fakeSession(() => undefined);
    const error = await session.exec(sh`sleep 600`, { timeoutMs: 50 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KvmCloneError);
    expect((error as KvmCloneError).code).toBe(ErrorCode.CONNECTION_ERROR);
    expect((error as KvmCloneError).retryable).toBe(true);
    expect((error as KvmCloneError).message).toBe(
      "root@10.0.0.9: 'sleep 600' did not finish within 0.05 s; stopped it",
    );
    expect(channel.signals).toEqual(['7:TERM']);
    expect(channel.closed).toBe(true);
    // The session itself is fine: only the command was stuck.
    expect(session.alive).toBe(true);
  });

  it('reports the timeout without waiting for a server that ignores the signal to close the channel', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { session, channel } = fakeSession(() => undefined, true);
      const stopped = session.exec(sh`sleep 600`, { timeoutMs: 1000 }).catch((caught: unknown) => caught);
      await vi.advanceTimersByTimeAsync(1000 + 5000);
      expect(channel.closed).toBe(true);
      expect(await stopped).toMatchObject({
        code: ErrorCode.CONNECTION_ERROR,
        message: "root@10.0.0.9: 'sleep 600' did not finish within 1 s; stopped it",
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('applies a 5-minute timeout by default, and none with Infinity', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const hanging = fakeSession(() => undefined);
      const stopped = hanging.session.exec(sh`virsh domstate --domain web01`).catch((caught: unknown) => caught);
      await vi.advanceTimersByTimeAsync(5 * 60_000 - 1);
      expect(hanging.channel.closed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(hanging.channel.closed).toBe(true);
      expect(await stopped).toMatchObject({ code: ErrorCode.CONNECTION_ERROR });

      const patient = fakeSession(() => undefined);
      const running = patient.session.exec(sh`sha256sum /vms/big.img`, { timeoutMs: Infinity });
      await vi.advanceTimersByTimeAsync(24 * 3600_000);
      expect(patient.channel.closed).toBe(false);
      patient.channel.finish(0);
      await expect(running).resolves.toMatchObject({ exitCode: 0 });
    } finally {
      vi.useRealTimers();
    }
  });
});
