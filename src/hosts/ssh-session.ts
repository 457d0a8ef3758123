import { readFile, appendFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { ErrorCode, KvmCloneError, type ErrorCodeValue } from '../errors';
import type { HostSpec } from '../domain/schemas/host';
import type { ShellFragment } from '../domain/shell-quote';
import { knownHostsLine, knownHostsName, verifyHostKey, type HostKeyVerdict } from './known-hosts';

export interface ExecResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
  signal?: string;
}

export function describeHost(host: HostSpec): string {
  return `${host.user}@${knownHostsName(host.address, host.port)}`;
}

interface ChannelExit {
  code?: number | null;
  signal?: string;
}

const exits = new WeakMap<ClientChannel, ChannelExit>();

/** How a command on a channel from openExec ended, once the channel has closed. */
export interface ChannelOutcome {
  /** null when the command was killed by a signal, or when no exit status arrived. */
  exitCode: number | null;
  signal?: string;
  stderr: string;
}

/**
 * Resolves when the channel closes, with the exit status recorded since it opened and
 * its stderr. ssh2 closes a channel only once its stdout has been consumed, so the
 * caller reads or resumes it.
 */
export function channelOutcome(channel: ClientChannel): Promise<ChannelOutcome> {
  return new Promise((resolve, reject) => {
    const stderr: Buffer[] = [];
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    channel.on('error', reject);
    channel.on('close', () => {
      const exit = exits.get(channel) ?? {};
      const outcome: ChannelOutcome = { exitCode: exit.code ?? null, stderr: Buffer.concat(stderr).toString('utf8').trim() };
      if (exit.signal) outcome.signal = exit.signal;
      resolve(outcome);
    });
  });
}

/** True once the command on a channel from openExec has reported how it ended. */
export function hasExited(channel: ClientChannel): boolean {
  return exits.get(channel)?.code !== undefined;
}

/** One authenticated SSH connection to a host; commands run as channels over it. */
export class SshSession {
  private closed = false;

  constructor(
    readonly host: HostSpec,
    private readonly client: Client,
  ) {
    client.on('close', () => {
      this.closed = true;
    });
    client.on('error', () => {
      this.closed = true;
    });
  }

  get alive(): boolean {
    return !this.closed;
  }

  /** Opens a channel running `command`; the caller streams stdin/stdout itself. */
  openExec(command: ShellFragment): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command.text, (error, channel) => {
        if (error) {
          this.closed ||= /not connected|no response/i.test(error.message);
          reject(new KvmCloneError(ErrorCode.CONNECTION_ERROR, `${describeHost(this.host)}: cannot open a channel: ${error.message}`, {}, { cause: error }));
        } else {
          // ssh2 may deliver the exit status in the same socket read as the channel's
          // opening, before any listener added after this promise resolves could see it.
          const exit: ChannelExit = {};
          exits.set(channel, exit);
          channel.once('exit', (code: number | null, signal?: string) => {
            exit.code = code;
            if (signal) exit.signal = signal;
          });
          resolve(channel);
        }
      });
    });
  }

  /** Runs a command to completion, collecting its output. */
  async exec(command: ShellFragment, stdin?: string | Buffer): Promise<ExecResult> {
    const channel = await this.openExec(command);
    const stdout: Buffer[] = [];
    channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.end(stdin);
    const outcome = await channelOutcome(channel);
    if (outcome.exitCode === null && outcome.signal === undefined) {
      // No exit status: the command's outcome is unknown, which must not read as "false",
      // and a connection that loses channels this way is not handed out again.
      this.closed = true;
      throw new KvmCloneError(ErrorCode.CONNECTION_ERROR, `${describeHost(this.host)}: channel closed before '${command.text.split(' ')[0]}' reported its exit status`);
    }
    const result: ExecResult = { stdout: Buffer.concat(stdout), stderr: outcome.stderr, exitCode: outcome.exitCode };
    if (outcome.signal) result.signal = outcome.signal;
    return result;
  }

  /**
   * Runs a command that must succeed and returns its stdout as text. A failure becomes
   * a KvmCloneError with `failureCode`, carrying the command's stderr.
   */
  async run(command: ShellFragment, options: { stdin?: string | Buffer; failureCode?: ErrorCodeValue; what?: string } = {}): Promise<string> {
    const result = await this.exec(command, options.stdin);
    if (result.exitCode !== 0) {
      const what = options.what ?? command.text.split(' ')[0];
      const reason = result.stderr.trim() || `exit status ${result.exitCode ?? result.signal}`;
      throw new KvmCloneError(options.failureCode ?? ErrorCode.GENERAL_ERROR, `${describeHost(this.host)}: ${what} failed: ${reason}`, {
        host: describeHost(this.host),
        exitCode: result.exitCode,
      });
    }
    return result.stdout.toString('utf8');
  }

  close(): void {
    this.closed = true;
    this.client.end();
  }
}

async function readPrivateKey(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new KvmCloneError(ErrorCode.SSH_KEY_ERROR, `SSH key ${path} cannot be read: ${(error as Error).message}`, { path }, { cause: error });
  }
}

async function readKnownHosts(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new KvmCloneError(ErrorCode.HOST_KEY_ERROR, `known_hosts file ${path} cannot be read: ${(error as Error).message}`, { path });
  }
}

function hostKeyError(host: HostSpec, knownHostsFile: string, verdict: HostKeyVerdict): KvmCloneError {
  const name = knownHostsName(host.address, host.port);
  const reasons: Record<HostKeyVerdict, string> = {
    trusted: '',
    unknown: `host key of ${name} is not in ${knownHostsFile} (host-key policy '${host.hostKeyPolicy}'); add it with ssh-keyscan after checking its fingerprint, or use the 'accept-new' policy`,
    changed: `host key of ${name} does not match ${knownHostsFile}: it CHANGED, which may mean an attack; refusing to connect`,
    revoked: `host key of ${name} is marked @revoked in ${knownHostsFile}`,
  };
  return new KvmCloneError(ErrorCode.HOST_KEY_ERROR, reasons[verdict], { host: name, knownHostsFile, verdict });
}

const connectionRefusedCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN']);

function connectionError(host: HostSpec, error: Error & { level?: string; code?: string }): KvmCloneError {
  const where = describeHost(host);
  if (error.level === 'client-authentication') {
    return new KvmCloneError(ErrorCode.AUTH_ERROR, `${where}: SSH authentication failed (tried ${host.identityFile ? `key ${host.identityFile}` : 'the SSH agent'})`, { host: where });
  }
  if (/timed out while waiting for handshake/i.test(error.message) || (error.code && connectionRefusedCodes.has(error.code))) {
    return new KvmCloneError(ErrorCode.CONNECTION_ERROR, `${where}: cannot connect: ${error.code ?? error.message}`, { host: where });
  }
  return new KvmCloneError(ErrorCode.CONNECTION_ERROR, `${where}: SSH connection failed: ${error.message}`, { host: where }, { cause: error });
}

/** Opens an SSH session, checking the host key against known_hosts before authenticating. */
export async function openSshSession(host: HostSpec, options: { readyTimeoutMs?: number } = {}): Promise<SshSession> {
  const knownHostsFile = host.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts');
  const knownHosts = await readKnownHosts(knownHostsFile);
  let rejection: KvmCloneError | undefined;
  let keyToRemember: Buffer | undefined;

  const config: ConnectConfig = {
    host: host.address.replace(/^\[(.*)\]$/, '$1'),
    port: host.port,
    username: host.user,
    readyTimeout: options.readyTimeoutMs ?? 20_000,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      const verdict = verifyHostKey(knownHosts, host.address, host.port, key);
      if (verdict === 'trusted') return true;
      if (verdict === 'unknown' && host.hostKeyPolicy === 'accept-new') {
        keyToRemember = key;
        return true;
      }
      rejection = hostKeyError(host, knownHostsFile, verdict);
      return false;
    },
  };
  if (host.identityFile) {
    config.privateKey = await readPrivateKey(host.identityFile);
  } else {
    const agent = host.agent ?? process.env.SSH_AUTH_SOCK;
    if (!agent) {
      throw new KvmCloneError(ErrorCode.SSH_KEY_ERROR, `${describeHost(host)}: no identity file configured and no SSH agent (SSH_AUTH_SOCK) available`);
    }
    config.agent = agent;
  }

  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', (error: Error & { level?: string; code?: string }) => reject(rejection ?? connectionError(host, error)));
    try {
      client.connect(config);
    } catch (error) {
      reject(new KvmCloneError(ErrorCode.SSH_KEY_ERROR, `${describeHost(host)}: unusable SSH key: ${(error as Error).message}`, {}, { cause: error }));
    }
  });
  // Nagle's algorithm stalls the relay's small window updates; disabling it costs nothing.
  (client as unknown as { _sock?: { setNoDelay?: (noDelay: boolean) => void } })._sock?.setNoDelay?.(true);
  if (keyToRemember) {
    await appendFile(knownHostsFile, knownHostsLine(host.address, host.port, keyToRemember), { mode: 0o600 });
  }
  return new SshSession(host, client);
}
