import { becomeCommand, sudoRefusal, type Become } from '../domain/become';
import type { CompressionCodec } from '../domain/compression';
import type { DirectRoute, ResolvedRoute } from '../domain/schemas/direct-route';
import type { HostSpec } from '../domain/schemas/host';
import { sh, type ShellFragment } from '../domain/shell-quote';
import { totalLength, type Extent } from '../domain/transfer-plan';
import { ErrorCode, KvmCloneError } from '../errors';
import {
  bashPipefail,
  noRoomOnDestination,
  readFramedExtentsScript,
  writeFailure,
  writeFramedExtentsScript,
  type RelayResult,
} from './extent-relay';
import { knownHostsName } from './known-hosts';
import { channelOutcome, describeHost, type SshSession } from './ssh-session';

export type { ResolvedRoute };

export function resolveRoute(destination: HostSpec, route: DirectRoute): ResolvedRoute {
  const resolved: ResolvedRoute = {
    address: route.address ?? destination.address,
    port: route.port ?? destination.port,
    user: route.user ?? destination.user,
    // The route is a separate trust decision from the worker's: unknown keys are refused unless it says so.
    hostKeyPolicy: route.hostKeyPolicy ?? 'strict',
  };
  if (route.identityFile) resolved.identityFile = route.identityFile;
  if (route.knownHostsFile) resolved.knownHostsFile = route.knownHostsFile;
  // Never the worker's own jump host to the destination: the source sits elsewhere in the network.
  if (route.proxyJump) resolved.proxyJump = route.proxyJump;
  return resolved;
}

function describeRoute(route: ResolvedRoute): string {
  return `${route.user}@${knownHostsName(route.address, route.port)}`;
}

/**
 * aes128-gcm first: it beat OpenSSH's default chacha20 by 10–25% on AES-NI hosts. The rest
 * keep a server that lacks it reachable.
 */
const ciphers = 'aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes256-ctr';

/**
 * The source host's `ssh` to the destination, running `remote` there. `remote` is one
 * argument, so the destination's shell parses it exactly once. BatchMode: a prompt would
 * wait forever on a host nobody watches. LogLevel ERROR keeps "Permanently added" notices
 * out of the stderr that error messages quote.
 */
export function sshCommand(route: ResolvedRoute, remote: ShellFragment): ShellFragment {
  const options = [
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    `StrictHostKeyChecking=${route.hostKeyPolicy === 'accept-new' ? 'accept-new' : 'yes'}`,
    '-o',
    'ConnectTimeout=20',
    '-o',
    'ServerAliveInterval=15',
    '-o',
    'ServerAliveCountMax=3',
    // zlib inside ssh ran at a fifth of the link's speed; compression is the pipeline's job.
    '-o',
    'Compression=no',
    '-o',
    'LogLevel=ERROR',
    '-o',
    `Ciphers=${ciphers}`,
  ];
  if (route.identityFile) options.push('-i', route.identityFile, '-o', 'IdentitiesOnly=yes');
  if (route.knownHostsFile) options.push('-o', `UserKnownHostsFile=${route.knownHostsFile}`);
  // ssh runs a second ssh to the jump host that takes none of the -o options above: it
  // uses the source user's ssh_config, keys and known_hosts, and with no terminal to ask
  // on, an unknown jump host key fails ("Host key verification failed", 1103).
  if (route.proxyJump) options.push('-J', route.proxyJump);
  // ssh wants an IPv6 address bare after the '@'.
  const address = route.address.replace(/^\[(.*)\]$/, '$1');
  return sh`ssh ${options} -p ${route.port} ${`${route.user}@${address}`} ${remote.text}`;
}

/**
 * sshd does not end a session's processes when its channel closes: they run on until they
 * write to the gone channel, which this pipeline never does. The worker never ends the
 * channel's stdin, so its EOF means the channel closed (cancellation, or a worker that
 * died): the watchdog then ends every process of the session, the `ssh` to the
 * destination with them, which in turn ends the destination's side. sshd also closes
 * stdin once the script exits, so the script stops the watchdog first: `wc` may still be
 * printing the wire count.
 */
function withWatchdog(pipeline: ShellFragment): ShellFragment {
  return sh`{ cat >/dev/null; kill -TERM 0; } <&0 >/dev/null 2>&1 & watchdog=$!; ${pipeline}; status=$?; kill $watchdog 2>/dev/null; exit $status`;
}

export interface PushCommandOptions {
  route: ResolvedRoute;
  sourcePath: string;
  destinationPath: string;
  extents: readonly Extent[];
  compression?: CompressionCodec;
  /** The destination's `become`: its write pipeline then runs through sudo there, as every command of that host does. */
  become?: Become;
}

/**
 * The one command the source host runs: its read pipeline into `ssh` to the destination,
 * which runs the write pipeline. The stream is framed with the end marker in every mode,
 * because the worker sees none of its bytes and cannot count them. When compressing,
 * `wc -c` reports the compressed bytes on stdout; everything else goes to stderr.
 */
export function pushCommand(options: PushCommandOptions): ShellFragment {
  const codec = options.compression ?? 'none';
  const read = readFramedExtentsScript(options.sourcePath, options.extents, codec);
  const write = bashPipefail(writeFramedExtentsScript(options.destinationPath, options.extents, codec));
  const ssh = sshCommand(options.route, becomeCommand(write, options.become));
  if (codec === 'none') return bashPipefail(withWatchdog(sh`${read} | ${ssh} >&2`));
  // fd 3 is the channel's stdout: inside the pipeline, wc's own stdout is the pipe to ssh.
  return bashPipefail(withWatchdog(sh`{ ${read} | tee >(wc -c >&3) | ${ssh} >&2; } 3>&1`));
}

/** ssh exits 255 for its own failures; any other status is the remote command's. */
const sshFailureStatus = 255;

/** Failures of the source's `ssh` itself, recognised by OpenSSH's messages. */
function sshFailure(where: string, stderr: string): KvmCloneError {
  const details = { route: where };
  if (
    /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key .* (?:changed|revoked)/i.test(stderr)
  ) {
    return new KvmCloneError(
      ErrorCode.HOST_KEY_ERROR,
      `${where}: the source host does not trust the destination's host key; add it to the route's known_hosts file on the source after checking its fingerprint, or use the 'accept-new' policy: ${stderr}`,
      details,
      { retryable: false },
    );
  }
  if (/Permission denied \(/.test(stderr)) {
    return new KvmCloneError(
      ErrorCode.AUTH_ERROR,
      `${where}: the destination refused the source host's SSH key: ${stderr}`,
      details,
      { retryable: false },
    );
  }
  return new KvmCloneError(
    ErrorCode.CONNECTION_ERROR,
    `${where}: the source host cannot connect to the destination: ${stderr || 'ssh failed'}`,
    details,
  );
}

/** Same shape as the relay's, so transferRange can account for either mode alike. */
export type PushResult = RelayResult;

export interface PushOptions {
  /** A session on the source host: the push runs there, as its user. */
  source: SshSession;
  /** The destination as the worker knows it: the route's defaults. */
  destinationHost: HostSpec;
  route: DirectRoute;
  sourcePath: string;
  destinationPath: string;
  extents: readonly Extent[];
  /** Codec both hosts have (see chooseCompression); default 'none'. */
  compression?: CompressionCodec;
  signal?: AbortSignal;
  /**
   * Called every `tickMs` while the push runs. The worker sees none of the bytes, and a
   * 128 MiB batch on a slow link takes minutes: this keeps the activity's heartbeat going.
   */
  onTick?: () => void;
  /** Default 5 s: well inside transferOptions' 30 s heartbeat timeout. */
  tickMs?: number;
}

/**
 * Copies extents from the source host's file into the destination host's file over the
 * source's own SSH connection to the destination (direct mode): no byte passes through
 * the worker. Authentication uses a key on the source host; agent forwarding is not
 * supported. Resolves once the destination has written and length-checked every byte.
 */
export async function pushExtents(options: PushOptions): Promise<PushResult> {
  const dataBytes = totalLength(options.extents);
  if (dataBytes === 0) return { dataBytes: 0, wireBytes: 0 };
  options.signal?.throwIfAborted();
  const route = resolveRoute(options.destinationHost, options.route);
  const codec = options.compression ?? 'none';
  const channel = await options.source.openExec(
    pushCommand({ ...options, route, become: options.destinationHost.become }),
  );
  const stdout: Buffer[] = [];
  channel.on('data', (chunk: Buffer) => stdout.push(chunk));
  const done = channelOutcome(channel);
  const abort = () => channel.close();
  options.signal?.addEventListener('abort', abort, { once: true });
  // A cancellation that came while the channel opened fired no event; the push is then waited for below, so it stops writing first.
  if (options.signal?.aborted) abort();
  const ticker = options.onTick ? setInterval(options.onTick, options.tickMs ?? 5000) : undefined;
  try {
    const outcome = await done;
    options.signal?.throwIfAborted();
    const where = `${describeHost(options.source.host)} → ${describeRoute(route)}`;
    if (outcome.exitCode === sshFailureStatus) throw sshFailure(where, outcome.stderr);
    if (outcome.exitCode === null) {
      throw new KvmCloneError(
        ErrorCode.CONNECTION_ERROR,
        `${where}: the push of ${options.sourcePath} ended without an exit status${outcome.signal ? ` (signal ${outcome.signal})` : ''}: ${outcome.stderr}`,
      );
    }
    if (outcome.exitCode !== 0) {
      const refusal = pushRefusal(options, route, outcome.stderr);
      if (refusal) throw refusal;
    }
    // The destination's dd speaks through ssh's stderr: a full destination is 1204, as in relay mode.
    if (outcome.exitCode !== 0 && noRoomOnDestination(outcome.stderr)) {
      throw writeFailure(where, options.destinationPath, outcome.stderr);
    }
    if (outcome.exitCode !== 0) {
      throw new KvmCloneError(
        ErrorCode.TRANSFER_ERROR,
        `${where}: copying ${options.sourcePath} to ${options.destinationPath} failed: ${outcome.stderr || `exit ${outcome.exitCode}`}`,
        {
          route: where,
          exitCode: outcome.exitCode,
        },
      );
    }
    if (codec === 'none') return { dataBytes, wireBytes: dataBytes };
    const wireBytes = Number.parseInt(Buffer.concat(stdout).toString('utf8').trim(), 10);
    return { dataBytes, wireBytes: Number.isFinite(wireBytes) ? wireBytes : dataBytes };
  } finally {
    clearInterval(ticker);
    options.signal?.removeEventListener('abort', abort);
  }
}

/**
 * sudo's refusal in the push's stderr (1102). It comes from the destination when that host
 * has `become`: the source's own sudo, if it has one, has already run every command of the
 * operation before this push. Otherwise it can only be the source's.
 */
function pushRefusal(options: PushOptions, route: ResolvedRoute, stderr: string): KvmCloneError | undefined {
  if (options.destinationHost.become !== undefined) {
    return sudoRefusal(stderr, `the write of ${options.destinationPath} (direct mode)`, {
      host: describeRoute(route),
      user: route.user,
    });
  }
  if (options.source.host.become !== undefined) {
    return sudoRefusal(stderr, `the push of ${options.sourcePath} (direct mode)`, {
      host: describeHost(options.source.host),
      user: options.source.host.user,
    });
  }
  return undefined;
}
