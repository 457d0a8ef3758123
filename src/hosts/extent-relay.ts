import type { ClientChannel } from 'ssh2';
import { ErrorCode, KvmCloneError } from '../errors';
import { joinShell, sh, type ShellFragment } from '../domain/shell-quote';
import { totalLength, type Extent } from '../domain/transfer-plan';
import { describeHost, type SshSession } from './ssh-session';

const blockSize = '4M';

/** Source side: the extents' bytes, back to back, on stdout. */
export function readExtentsCommand(path: string, extents: readonly Extent[]): ShellFragment {
  return joinShell(
    extents.map((extent) => sh`dd if=${path} bs=${blockSize} iflag=skip_bytes,count_bytes skip=${extent.start} count=${extent.length} status=none`),
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

interface ChannelOutcome {
  exitCode: number | null;
  stderr: string;
}

function outcomeOf(channel: ClientChannel): Promise<ChannelOutcome> {
  return new Promise((resolve) => {
    let exitCode: number | null = null;
    const stderr: Buffer[] = [];
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    channel.on('exit', (code: number | null) => {
      exitCode = code;
    });
    channel.on('close', () => resolve({ exitCode, stderr: Buffer.concat(stderr).toString('utf8').trim() }));
  });
}

export interface RelayOptions {
  source: SshSession;
  destination: SshSession;
  sourcePath: string;
  destinationPath: string;
  extents: readonly Extent[];
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

/**
 * Streams extents from the source host's file into the destination host's file through
 * this worker (relay mode): the hosts need no SSH trust between them. Resolves once the
 * destination has written every byte.
 */
export async function relayExtents(options: RelayOptions): Promise<number> {
  const expected = totalLength(options.extents);
  if (expected === 0) return 0;
  options.signal?.throwIfAborted();
  const reader = await options.source.openExec(readExtentsCommand(options.sourcePath, options.extents));
  const writer = await options.destination.openExec(writeExtentsCommand(options.destinationPath, options.extents)).catch((error: unknown) => {
    reader.close();
    throw error;
  });
  const readerDone = outcomeOf(reader);
  const writerDone = outcomeOf(writer);
  // ssh2 emits 'close' only once a channel's readable side has ended, so the
  // writer's (empty) stdout is drained too.
  writer.resume();
  let relayed = 0;
  reader.on('data', (chunk: Buffer) => {
    relayed += chunk.length;
    options.onBytes?.(chunk.length);
  });
  const abort = () => {
    reader.close();
    writer.close();
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    // pipe(), not pipeline(): the writer may close as soon as it has every byte, before
    // the reader's exit status arrives, and pipeline() would then destroy the reader.
    reader.pipe(writer);
    const [read, written] = await Promise.all([readerDone, writerDone]);
    options.signal?.throwIfAborted();
    if (read.exitCode !== 0) {
      throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `${describeHost(options.source.host)}: reading ${options.sourcePath} failed: ${read.stderr || `exit ${read.exitCode}`}`);
    }
    if (written.exitCode !== 0) {
      throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `${describeHost(options.destination.host)}: writing ${options.destinationPath} failed: ${written.stderr || `exit ${written.exitCode}`}`);
    }
    if (relayed !== expected) {
      throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `relayed ${relayed} bytes of ${options.sourcePath} where ${expected} were expected (the file changed during the copy?)`);
    }
    return relayed;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
