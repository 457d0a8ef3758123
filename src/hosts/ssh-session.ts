import { readFile, appendFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, utils as sshUtils, type ClientChannel, type ConnectConfig } from 'ssh2';
import { ErrorCode, KvmCloneError, type ErrorCodeValue } from '../errors';
import { becomeCommand, sudoRefusal } from '../domain/become';
import type { HostSpec, JumpHost } from '../domain/schemas/host';
import type { ShellFragment } from '../domain/shell-quote';
import { hasCertAuthorityFor, knownHostsLine, knownHostsName, verifyHostKey, type HostKeyVerdict } from './known-hosts';

export interface ExecResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
  signal?: string;
}

/**
 * Limits of one command run with exec or run. A host that has been taken over, or a
 * command that hangs (an NFS mount, a stuck libvirtd), must not fill the worker's memory
 * or hold an activity forever.
 */
export interface CommandLimits {
  /**
   * Milliseconds before the command is stopped and fails with CONNECTION_ERROR (1002, as
   * for a host that stopped answering: retryable). `Infinity` for none: only for calls
   * whose activity heartbeats meanwhile (hashing a whole disk, a block commit).
   */
  timeoutMs?: number;
  /** Bytes of stdout collected; a command that prints more fails (GENERAL_ERROR, 1000, not retried). */
  maxStdoutBytes?: number;
  /** Bytes of stderr kept for error messages; the rest is dropped with a note. */
  maxStderrBytes?: number;
}

export interface ExecOptions extends CommandLimits {
  stdin?: string | Buffer;
  /** Names the command in errors; defaults to the start of its command line. */
  what?: string;
}

/** Longer than any virsh or qemu-img call that answers from metadata; long calls pass their own. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5 * 60_000;
/** Far above any listing or XML a host returns (a qemu-img map of a fragmented 1 TiB image is a few MiB). */
export const DEFAULT_MAX_STDOUT_BYTES = 64 * 1024 * 1024;
/** Enough for any real error message; a flood is cut. */
export const DEFAULT_MAX_STDERR_BYTES = 64 * 1024;

/** How long a stopped command's channel gets to close before exec reports the error anyway. */
const stopGraceMs = 5_000;

/**
 * Asks sshd to send `signal` to the command. ssh2's own channel.signal() sends nothing
 * once stdin has been ended, which exec does at once, so the request goes out directly;
 * a server that does not support it ignores it.
 */
function signalRemote(channel: ClientChannel, signal: string): void {
  const internals = channel as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (id: number, name: string) => void } };
  };
  const id = internals.outgoing?.id;
  const protocol = internals._client?._protocol;
  // 'eof' is the state after stdin has ended: the channel still carries requests.
  const state = internals.outgoing?.state;
  if (id === undefined || (state !== 'open' && state !== 'eof') || typeof protocol?.signal !== 'function') return;
  try {
    protocol.signal(id, signal);
  } catch {
    // A connection going down meanwhile: closing the channel is all that is left to do.
  }
}

/** The command as errors name it: its first 120 characters. */
function commandLabel(command: ShellFragment): string {
  return command.text.length > 120 ? `${command.text.slice(0, 117)}...` : command.text;
}

/** Collects a stream's chunks up to a byte limit; what comes after is counted, not kept. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  dropped = 0;

  constructor(private readonly limit: number) {}

  /** Keeps what fits under the limit; false once something had to be dropped. */
  push(chunk: Buffer): boolean {
    const room = this.limit - this.kept;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
      return this.dropped === 0;
    }
    if (room > 0) this.chunks.push(chunk.subarray(0, room));
    this.kept += Math.max(room, 0);
    this.dropped += chunk.length - Math.max(room, 0);
    return false;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** What connecting to one host needs: a host spec or one of its jump hosts. */
export type SshEndpoint = JumpHost;

export function describeHost(host: Pick<HostSpec, 'user' | 'address' | 'port'>): string {
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
export function channelOutcome(
  channel: ClientChannel,
  maxStderrBytes = DEFAULT_MAX_STDERR_BYTES,
): Promise<ChannelOutcome> {
  return new Promise((resolve, reject) => {
    const stderr = new CappedBuffer(maxStderrBytes);
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    channel.on('error', reject);
    channel.on('close', () => {
      const exit = exits.get(channel) ?? {};
      const text = stderr.bytes().toString('utf8').trim();
      const note = stderr.dropped > 0 ? `${text}\n[stderr truncated: ${stderr.dropped} more bytes]` : text;
      const outcome: ChannelOutcome = { exitCode: exit.code ?? null, stderr: note };
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
    /** Connections to the host's jump hosts, nearest first: they serve this session only. */
    private readonly jumps: readonly Client[] = [],
  ) {
    client.on('close', () => {
      this.closed = true;
      for (const jump of jumps) jump.end();
    });
    client.on('error', () => {
      this.closed = true;
    });
  }

  get alive(): boolean {
    return !this.closed;
  }

  /**
   * Opens a channel running `command`; the caller streams stdin/stdout itself. On a host
   * with `become`, the command runs through sudo: every exec and run comes here.
   */
  openExec(command: ShellFragment): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(becomeCommand(command, this.host.become).text, (error, channel) => {
        if (error) {
          this.closed ||= /not connected|no response/i.test(error.message);
          reject(
            new KvmCloneError(
              ErrorCode.CONNECTION_ERROR,
              `${describeHost(this.host)}: cannot open a channel: ${error.message}`,
              {},
              { cause: error },
            ),
          );
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

  /**
   * Runs a command to completion, collecting its output within `options`' limits (see
   * CommandLimits). A command past its timeout, or printing more than its stdout limit,
   * is sent SIGTERM (when the SSH server honours signal requests) and its channel closed.
   */
  async exec(command: ShellFragment, options: ExecOptions = {}): Promise<ExecResult> {
    const what = options.what ?? commandLabel(command);
    const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const maxStdoutBytes = options.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES;
    const channel = await this.openExec(command);
    const stdout = new CappedBuffer(maxStdoutBytes);
    let stopped: 'timeout' | 'flood' | undefined;
    let abandon: (() => void) | undefined;
    const abandoned = new Promise<undefined>((resolve) => {
      abandon = () => resolve(undefined);
    });
    let graceTimer: NodeJS.Timeout | undefined;
    const stop = (why: 'timeout' | 'flood') => {
      if (stopped) return;
      stopped = why;
      signalRemote(channel, 'TERM');
      // The data listener stays: ssh2 emits 'close' only once stdout has been consumed.
      channel.close();
      // sshd holds a channel open until its command exits, which a server that ignores
      // signal requests leaves to the command: the error does not wait for that.
      graceTimer = setTimeout(() => abandon?.(), stopGraceMs);
    };
    channel.on('data', (chunk: Buffer) => {
      if (!stdout.push(chunk)) stop('flood');
    });
    const timer = Number.isFinite(timeoutMs) ? setTimeout(() => stop('timeout'), timeoutMs) : undefined;
    channel.end(options.stdin);
    let outcome: ChannelOutcome | undefined;
    try {
      outcome = await Promise.race([channelOutcome(channel, options.maxStderrBytes), abandoned]);
    } finally {
      clearTimeout(timer);
      clearTimeout(graceTimer);
    }
    const details = { host: describeHost(this.host), command: what };
    if (stopped === 'flood') {
      throw new KvmCloneError(
        ErrorCode.GENERAL_ERROR,
        `${describeHost(this.host)}: '${what}' printed more than ${maxStdoutBytes} bytes on stdout, more than any answer it should give; stopped it`,
        { ...details, maxStdoutBytes },
        { retryable: false },
      );
    }
    if (stopped === 'timeout') {
      throw new KvmCloneError(
        ErrorCode.CONNECTION_ERROR,
        `${describeHost(this.host)}: '${what}' did not finish within ${timeoutMs / 1000} s; stopped it`,
        {
          ...details,
          timeoutMs,
        },
      );
    }
    if (outcome === undefined) throw new Error('unreachable: a channel is abandoned only once stopped');
    if (outcome.exitCode === null && outcome.signal === undefined) {
      // No exit status: the command's outcome is unknown, which must not read as "false",
      // and a connection that loses channels this way is not handed out again.
      this.closed = true;
      throw new KvmCloneError(
        ErrorCode.CONNECTION_ERROR,
        `${describeHost(this.host)}: channel closed before '${command.text.split(' ')[0]}' reported its exit status`,
      );
    }
    // sudo's refusal is no answer of the command: 1102 even where the caller reads a failing exit as "no".
    if (this.host.become !== undefined && outcome.exitCode !== 0) {
      const refusal = sudoRefusal(outcome.stderr, what, { host: describeHost(this.host), user: this.host.user });
      if (refusal) throw refusal;
    }
    const result: ExecResult = { stdout: stdout.bytes(), stderr: outcome.stderr, exitCode: outcome.exitCode };
    if (outcome.signal) result.signal = outcome.signal;
    return result;
  }

  /**
   * Runs a command that must succeed and returns its stdout as text. A failure becomes
   * a KvmCloneError with `failureCode`, carrying the command's stderr.
   */
  async run(command: ShellFragment, options: ExecOptions & { failureCode?: ErrorCodeValue } = {}): Promise<string> {
    const { failureCode, ...execOptions } = options;
    const result = await this.exec(command, execOptions);
    if (result.exitCode !== 0) {
      const what = options.what ?? command.text.split(' ')[0];
      const reason = result.stderr.trim() || `exit status ${result.exitCode ?? result.signal}`;
      throw new KvmCloneError(
        failureCode ?? ErrorCode.GENERAL_ERROR,
        `${describeHost(this.host)}: ${what} failed: ${reason}`,
        {
          host: describeHost(this.host),
          exitCode: result.exitCode,
        },
      );
    }
    return result.stdout.toString('utf8');
  }

  close(): void {
    this.closed = true;
    this.client.end();
    for (const jump of this.jumps) jump.end();
  }
}

async function readPrivateKey(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new KvmCloneError(
      ErrorCode.SSH_KEY_ERROR,
      `SSH key ${path} cannot be read: ${(error as Error).message}`,
      { path },
      { cause: error },
    );
  }
}

async function readKnownHosts(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new KvmCloneError(
      ErrorCode.HOST_KEY_ERROR,
      `known_hosts file ${path} cannot be read: ${(error as Error).message}`,
      { path },
    );
  }
}

function hostKeyError(
  host: SshEndpoint,
  knownHostsFile: string,
  verdict: HostKeyVerdict,
  knownHosts: string,
): KvmCloneError {
  const name = knownHostsName(host.address, host.port);
  const certificateOnly =
    verdict === 'unknown' && hasCertAuthorityFor(knownHosts, host.address, host.port)
      ? `; ${knownHostsFile} trusts it only through @cert-authority, and kvm-clone's SSH client (ssh2) cannot negotiate host certificates, so add the host's own key`
      : '';
  const reasons: Record<HostKeyVerdict, string> = {
    trusted: '',
    unknown: `host key of ${name} is not in ${knownHostsFile} (host-key policy '${host.hostKeyPolicy}'); add it with ssh-keyscan after checking its fingerprint, or use the 'accept-new' policy${certificateOnly}`,
    changed: `host key of ${name} does not match ${knownHostsFile}: it CHANGED, which may mean an attack; refusing to connect`,
    revoked: `host key of ${name} is marked @revoked in ${knownHostsFile}`,
  };
  return new KvmCloneError(ErrorCode.HOST_KEY_ERROR, reasons[verdict], { host: name, knownHostsFile, verdict });
}

const connectionRefusedCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
]);

function connectionError(
  host: SshEndpoint,
  error: Error & { level?: string; code?: string },
  usedAgentFor?: string,
  agentFailure?: string,
): KvmCloneError {
  const where = describeHost(host);
  if (error.level === 'client-authentication') {
    const tried = usedAgentFor
      ? `the SSH agent, since key ${usedAgentFor} has a passphrase`
      : host.identityFile
        ? `key ${host.identityFile}`
        : 'the SSH agent';
    const agent = agentFailure ? `; the agent failed: ${agentFailure}` : '';
    return new KvmCloneError(ErrorCode.AUTH_ERROR, `${where}: SSH authentication failed (tried ${tried}${agent})`, {
      host: where,
    });
  }
  if (
    /timed out while waiting for handshake/i.test(error.message) ||
    (error.code && connectionRefusedCodes.has(error.code))
  ) {
    return new KvmCloneError(ErrorCode.CONNECTION_ERROR, `${where}: cannot connect: ${error.code ?? error.message}`, {
      host: where,
    });
  }
  return new KvmCloneError(
    ErrorCode.CONNECTION_ERROR,
    `${where}: SSH connection failed: ${error.message}`,
    { host: where },
    { cause: error },
  );
}

/** Whether a private key file is encrypted: only its passphrase, or an agent holding it, makes it usable. */
export function needsPassphrase(privateKey: Buffer): boolean {
  const parsed = sshUtils.parseKey(privateKey);
  return parsed instanceof Error && /encrypted|passphrase/i.test(parsed.message);
}

/** How a connection authenticates: a key file, or an agent. */
export interface Authentication {
  privateKey?: Buffer;
  agent?: string;
  /** Set when the key file has a passphrase and the agent stands in for it. */
  agentForKey?: string;
}

/**
 * A host's key file, or its agent (`agent`, else SSH_AUTH_SOCK) when it has none. A key
 * with a passphrase is used through the agent, where `ssh-add` put it: a worker has no
 * terminal to ask for the passphrase on, and keeps none in its config.
 */
export async function authenticationFor(
  host: SshEndpoint,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Authentication> {
  const agent = host.agent ?? env.SSH_AUTH_SOCK;
  if (host.identityFile) {
    const privateKey = await readPrivateKey(host.identityFile);
    if (!needsPassphrase(privateKey)) return { privateKey };
    if (agent) return { agent, agentForKey: host.identityFile };
    throw new KvmCloneError(
      ErrorCode.SSH_KEY_ERROR,
      `${describeHost(host)}: SSH key ${host.identityFile} has a passphrase and no SSH agent is available: add the key to an agent (ssh-add ${host.identityFile}) that the worker reaches through SSH_AUTH_SOCK`,
      { host: describeHost(host), path: host.identityFile },
    );
  }
  if (!agent) {
    throw new KvmCloneError(
      ErrorCode.SSH_KEY_ERROR,
      `${describeHost(host)}: no identity file configured and no SSH agent (SSH_AUTH_SOCK) available`,
    );
  }
  return { agent };
}

/**
 * Opens a channel from the jump host to the next host: OpenSSH's ProxyJump, i.e. a
 * `direct-tcpip` channel (what `ssh -W` asks for), over which the next SSH session runs.
 */
function forwardThrough(jumpClient: Client, jump: SshEndpoint, next: SshEndpoint): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    jumpClient.forwardOut('127.0.0.1', 0, bareAddress(next.address), next.port, (error, channel) => {
      if (!error) {
        resolve(channel);
        return;
      }
      // Reason 1 is SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (RFC 4254): sshd's AllowTcpForwarding no.
      const prohibited = (error as Error & { reason?: unknown }).reason === 1 || /prohibited/i.test(error.message);
      reject(
        new KvmCloneError(
          ErrorCode.CONNECTION_ERROR,
          `${describeHost(jump)} (jump host) cannot reach ${describeHost(next)}: ${error.message}${prohibited ? ' (the jump host must allow TCP forwarding: AllowTcpForwarding in its sshd_config)' : ''}`,
          { host: describeHost(next), jumpHost: describeHost(jump) },
          prohibited ? { cause: error, retryable: false } : { cause: error },
        ),
      );
    });
  });
}

function bareAddress(address: string): string {
  return address.replace(/^\[(.*)\]$/, '$1');
}

interface ConnectOptions {
  readyTimeoutMs?: number;
}

/** Connects and authenticates one hop, checking its host key against known_hosts first; over `sock` when given. */
async function connectHop(host: SshEndpoint, options: ConnectOptions, sock?: ClientChannel): Promise<Client> {
  const knownHostsFile = host.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts');
  const knownHosts = await readKnownHosts(knownHostsFile);
  let rejection: KvmCloneError | undefined;
  let keyToRemember: Buffer | undefined;

  const authentication = await authenticationFor(host);
  const config: ConnectConfig = {
    host: bareAddress(host.address),
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
      rejection = hostKeyError(host, knownHostsFile, verdict, knownHosts);
      return false;
    },
  };
  if (authentication.privateKey) config.privateKey = authentication.privateKey;
  if (authentication.agent) config.agent = authentication.agent;
  if (sock) config.sock = sock;

  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    let agentFailure: string | undefined;
    client.once('ready', () => resolve());
    // Listening for every error: ssh2 reports an unreachable agent, then goes on to its
    // next method and reports again once authentication as a whole has failed.
    client.on('error', (error: Error & { level?: string; code?: string }) => {
      if (error.level === 'agent') {
        agentFailure = error.message;
        return;
      }
      client.end();
      reject(rejection ?? connectionError(host, error, authentication.agentForKey, agentFailure));
    });
    try {
      client.connect(config);
    } catch (error) {
      reject(
        new KvmCloneError(
          ErrorCode.SSH_KEY_ERROR,
          `${describeHost(host)}: unusable SSH key: ${(error as Error).message}`,
          {},
          { cause: error },
        ),
      );
    }
  });
  // Nagle's algorithm stalls the relay's small window updates; disabling it costs nothing.
  // Over a jump host the socket is a channel, and the jump's own socket has it off.
  (client as unknown as { _sock?: { setNoDelay?: (noDelay: boolean) => void } })._sock?.setNoDelay?.(true);
  if (keyToRemember) {
    await appendFile(knownHostsFile, knownHostsLine(host.address, host.port, keyToRemember), { mode: 0o600 });
  }
  return client;
}

/**
 * Connects to `host`, through its jump hosts first when it has any: the first of the chain
 * over TCP, each next one over a channel the one before it forwards. Returns the
 * connection to `host` and those to its jump hosts, nearest first.
 */
async function connectThroughJumps(host: SshEndpoint, options: ConnectOptions): Promise<Client[]> {
  if (!host.jump) return [await connectHop(host, options)];
  const jumps = await connectThroughJumps(host.jump, options);
  try {
    const channel = await forwardThrough(jumps[0]!, host.jump, host);
    return [await connectHop(host, options, channel), ...jumps];
  } catch (error) {
    for (const jump of jumps) jump.end();
    throw error;
  }
}

/**
 * Opens an SSH session, checking each host key against its known_hosts before
 * authenticating, through the host's jump hosts (ProxyJump) if it has any. The host key
 * checked is the host's own, as OpenSSH checks it behind a jump host.
 */
export async function openSshSession(host: HostSpec, options: ConnectOptions = {}): Promise<SshSession> {
  const [client, ...jumps] = await connectThroughJumps(host, options);
  return new SshSession(host, client!, jumps);
}
