import { ErrorCode, KvmCloneError } from '../errors';
import { sudoRefusal } from '../domain/become';
import type { CompressionCodec } from '../domain/compression';
import { joinShell, sh, type ShellFragment } from '../domain/shell-quote';
import { totalLength, type Extent } from '../domain/transfer-plan';
import { RateLimiter } from './rate-limiter';
import { channelOutcome, describeHost, hasExited, type SshSession } from './ssh-session';
import { throttle } from './throttle';

const blockSize = '4M';

/** Source side: the extents' bytes, back to back, on stdout. */
export function readExtentsCommand(path: string, extents: readonly Extent[]): ShellFragment {
  return joinShell(
    extents.map(
      (extent) =>
        sh`dd if=${path} bs=${blockSize} iflag=skip_bytes,count_bytes skip=${extent.start} count=${extent.length} status=none`,
    ),
    ' && ',
  );
}

/**
 * Destination side: stdin split back into the extents, each written at its offset.
 * `conv=notrunc` keeps the rest of the pre-sized file, so a repeated write is harmless.
 */
export function writeExtentsCommand(path: string, extents: readonly Extent[]): ShellFragment {
  return joinShell(
    extents.map(
      (extent) =>
        sh`dd of=${path} bs=${blockSize} iflag=fullblock,count_bytes count=${extent.length} oflag=seek_bytes seek=${extent.start} conv=notrunc status=none`,
    ),
    ' && ',
  );
}

const compressors: Record<Exclude<CompressionCodec, 'none'>, { compress: ShellFragment; decompress: ShellFragment }> = {
  // Level 1 and all cores: the relay must keep up with the network, not squeeze every byte.
  zstd: { compress: sh`zstd -1 -T0 -c -q`, decompress: sh`zstd -d -c -q` },
  lz4: { compress: sh`lz4 -1 -c -q`, decompress: sh`lz4 -d -c -q` },
};

/**
 * Sent after the extents in a framed stream. When the bytes in between cannot be counted
 * (the worker sees only compressed ones, or none at all in direct mode), the destination
 * checks instead that exactly this many bytes remain once its `dd`s have taken theirs.
 * Fewer means the source sent short (a `dd` that hits the end of the file exits 0), more
 * means it sent too much.
 */
const endMarker = 'KVM-CLONE-END-OF-EXTENTS';

/** bash, for `pipefail`: without it a pipeline reports only its last command's status. */
export function bashPipefail(script: ShellFragment): ShellFragment {
  return sh`bash -c ${`set -o pipefail; ${script.text}`}`;
}

/**
 * Source side of a framed stream, as a pipeline for bash with `pipefail`: the extents and
 * the end marker on stdout, compressed unless the codec is 'none'.
 */
export function readFramedExtentsScript(
  path: string,
  extents: readonly Extent[],
  codec: CompressionCodec,
): ShellFragment {
  const framed = sh`{ ${readExtentsCommand(path, extents)} && printf %s ${endMarker}; }`;
  return codec === 'none' ? framed : sh`${framed} | ${compressors[codec].compress}`;
}

/**
 * Destination side of a framed stream, as a pipeline for bash with `pipefail`: decompresses
 * unless the codec is 'none', writes the extents, then checks the stream's length.
 */
export function writeFramedExtentsScript(
  path: string,
  extents: readonly Extent[],
  codec: CompressionCodec,
): ShellFragment {
  const expected = totalLength(extents);
  const wrongLength = `kvm-clone: the stream from the source did not hold exactly the ${expected} bytes expected (the file changed during the copy?)`;
  // head reads one byte more than the marker so that a longer tail shows up too.
  const checkLength = sh`{ [ "$(head -c ${endMarker.length + 1} | wc -c)" -eq ${endMarker.length} ] || { echo ${wrongLength} >&2; exit 1; }; }`;
  const checked = sh`{ ${writeExtentsCommand(path, extents)} && ${checkLength}; }`;
  return codec === 'none' ? checked : sh`${compressors[codec].decompress} | ${checked}`;
}

/** Source side with compression: the extents and the end marker, compressed, on stdout. */
export function readCompressedExtentsCommand(
  path: string,
  extents: readonly Extent[],
  codec: Exclude<CompressionCodec, 'none'>,
): ShellFragment {
  return bashPipefail(readFramedExtentsScript(path, extents, codec));
}

/** Destination side with compression: decompresses, writes the extents, then checks the stream's length. */
export function writeCompressedExtentsCommand(
  path: string,
  extents: readonly Extent[],
  codec: Exclude<CompressionCodec, 'none'>,
): ShellFragment {
  return bashPipefail(writeFramedExtentsScript(path, extents, codec));
}

/** True when a writer's stderr says its filesystem has no room left (ENOSPC, EDQUOT). */
export function noRoomOnDestination(stderr: string): boolean {
  return /No space left on device|Disk quota exceeded/i.test(stderr);
}

/**
 * The error for a destination write that failed. A full filesystem is 1204, not retryable:
 * preflight found room, so another writer took it, and retrying a full disk only holds the
 * source (a running one on its overlays) for the whole retry policy. Anything else is 1006.
 */
export function writeFailure(where: string, path: string, reason: string): KvmCloneError {
  if (noRoomOnDestination(reason)) {
    return new KvmCloneError(
      ErrorCode.DISK_SPACE_ERROR,
      `${where}: the destination is full: writing ${path} failed: ${reason}`,
      { path },
    );
  }
  return new KvmCloneError(ErrorCode.TRANSFER_ERROR, `${where}: writing ${path} failed: ${reason}`);
}

export interface RelayOptions {
  source: SshSession;
  destination: SshSession;
  sourcePath: string;
  destinationPath: string;
  extents: readonly Extent[];
  /** Codec both hosts have (see chooseCompression); default 'none'. */
  compression?: CompressionCodec;
  /** Caps this one stream; parallel streams each get their own share. Default: unlimited. */
  bytesPerSecond?: number;
  /** Called as bytes arrive from the source: wire bytes, i.e. compressed ones when compressing. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface RelayResult {
  /** Bytes of the file written on the destination: the extents' total length. */
  dataBytes: number;
  /** Bytes that crossed the wire from the source; fewer than dataBytes when compression pays. */
  wireBytes: number;
}

function relayCommands(options: RelayOptions): { read: ShellFragment; write: ShellFragment } {
  const codec = options.compression ?? 'none';
  if (codec === 'none') {
    return {
      read: readExtentsCommand(options.sourcePath, options.extents),
      write: writeExtentsCommand(options.destinationPath, options.extents),
    };
  }
  return {
    read: readCompressedExtentsCommand(options.sourcePath, options.extents, codec),
    write: writeCompressedExtentsCommand(options.destinationPath, options.extents, codec),
  };
}

/**
 * Streams extents from the source host's file into the destination host's file through
 * this worker (relay mode): the hosts need no SSH trust between them. Resolves once the
 * destination has written every byte.
 */
export async function relayExtents(options: RelayOptions): Promise<RelayResult> {
  const expected = totalLength(options.extents);
  if (expected === 0) return { dataBytes: 0, wireBytes: 0 };
  options.signal?.throwIfAborted();
  const commands = relayCommands(options);
  const reader = await options.source.openExec(commands.read);
  const writer = await options.destination.openExec(commands.write).catch((error: unknown) => {
    reader.close();
    throw error;
  });
  const readerDone = channelOutcome(reader);
  const writerDone = channelOutcome(writer);
  // ssh2 emits 'close' only once a channel's readable side has ended, so the
  // writer's (empty) stdout is drained too.
  writer.resume();
  let relayed = 0;
  reader.on('data', (chunk: Buffer) => {
    relayed += chunk.length;
    options.onBytes?.(chunk.length);
  });
  // Drained after closing for the same reason: a paused reader would never emit 'close'.
  const stopReader = () => {
    reader.unpipe();
    reader.close();
    reader.resume();
  };
  const abort = () => {
    stopReader();
    writer.close();
  };
  if (options.signal?.aborted) {
    // The cancellation came while the channels opened, so no abort event will come. Both are
    // closed before anything is piped (a pipe would hold the closed reader back, and a
    // reader not drained never closes), and waited for, so nothing writes after this returns.
    abort();
    await Promise.allSettled([readerDone, writerDone]);
    options.signal.throwIfAborted();
  }
  options.signal?.addEventListener('abort', abort, { once: true });
  // Nothing reads the source once the writer has failed; it would wait forever for window
  // space. Its failure from being cut off then says nothing, so the writer's is reported.
  let readerCutOff = false;
  const pacer = options.bytesPerSecond === undefined ? undefined : throttle(new RateLimiter(options.bytesPerSecond));
  void writerDone.then((written) => {
    if (written.exitCode === 0 || hasExited(reader)) {
      // The writer's close unpipes what fed it, and unpipe() pauses a stream left without a
      // pipe: a source whose EOF came after the writer had every byte would never end. Bytes
      // still arriving are counted, so a source that sends too much is still caught.
      pacer?.resume();
      reader.resume();
      return;
    }
    readerCutOff = true;
    stopReader();
  });
  try {
    // pipe(), not pipeline(): the writer may close as soon as it has every byte, before
    // the reader's exit status arrives, and pipeline() would then destroy the reader.
    if (pacer) reader.pipe(pacer).pipe(writer);
    else reader.pipe(writer);
    const [read, written] = await Promise.all([readerDone, writerDone]);
    options.signal?.throwIfAborted();
    // A source that failed on its own explains the destination's failure too: report it first.
    if (read.exitCode !== 0 && !readerCutOff) {
      throw (
        refusalOn(options.source, read.stderr, `the read of ${options.sourcePath}`) ??
        new KvmCloneError(
          ErrorCode.TRANSFER_ERROR,
          `${describeHost(options.source.host)}: reading ${options.sourcePath} failed: ${read.stderr || `exit ${read.exitCode}`}`,
        )
      );
    }
    if (written.exitCode !== 0) {
      throw (
        refusalOn(options.destination, written.stderr, `the write of ${options.destinationPath}`) ??
        writeFailure(
          describeHost(options.destination.host),
          options.destinationPath,
          written.stderr || `exit ${written.exitCode}`,
        )
      );
    }
    // Compressed streams are length-checked by the destination command instead.
    if ((options.compression ?? 'none') === 'none' && relayed !== expected) {
      throw new KvmCloneError(
        ErrorCode.TRANSFER_ERROR,
        `relayed ${relayed} bytes of ${options.sourcePath} where ${expected} were expected (the file changed during the copy?)`,
      );
    }
    return { dataBytes: expected, wireBytes: relayed };
  } finally {
    options.signal?.removeEventListener('abort', abort);
    pacer?.destroy();
  }
}

/** sudo's refusal (1102) of a relay stream's command, on a host with `become`; undefined for any other failure. */
function refusalOn(session: SshSession, stderr: string, what: string): KvmCloneError | undefined {
  if (session.host.become === undefined) return undefined;
  return sudoRefusal(stderr, what, { host: describeHost(session.host), user: session.host.user });
}
