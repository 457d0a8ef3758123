import { Context } from '@temporalio/activity';
import { partialPathFor } from '../domain/copied-file';
import { sh } from '../domain/shell-quote';
import type { HostRef } from '../domain/schemas/host';
import { ErrorCode, KvmCloneError } from '../errors';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { describeHost, type SshSession } from '../hosts/ssh-session';
import { whileTicking } from './heartbeat-ticker';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { assertWritable } from './writable-paths';

/** One disk's copied layers on the destination, top first. */
export interface CopiedChain {
  layers: { path: string; format: string }[];
}

export interface FinalizeFilesInput {
  destination: HostRef;
  /** Verified partial copies and the names they take. */
  renames: { from: string; to: string }[];
  /** Chains whose copied layers must point at each other instead of at the source's paths. */
  chains: CopiedChain[];
  flatten: boolean;
  /** A storage pool to refresh so libvirt sees the new volumes. */
  pool?: string;
}

/** Where a chain's merged image is written before it replaces the top: a partial path, so a retry may recreate it. */
export function flattenedPathFor(topPath: string): string {
  return partialPathFor(topPath, 'flat');
}

/**
 * Renames `from` to `to` without ever replacing a file at `to`. After a lost reply the
 * rename may have happened: `from` gone and `to` a regular file is that, and succeeds.
 */
export async function renameNoClobber(session: SshSession, from: string, to: string): Promise<void> {
  const script = sh`f=${from}; t=${to}
if [ -e "$f" ] || [ -L "$f" ]; then
  if [ -L "$f" ] || [ ! -f "$f" ]; then exit 18; fi
  mv -n -T -- "$f" "$t"
  if [ -e "$f" ] || [ -L "$f" ]; then if [ -e "$t" ] || [ -L "$t" ]; then exit 17; fi; exit 1; fi
elif [ -L "$t" ] || [ ! -f "$t" ]; then exit 19
fi`;
  const result = await session.exec(script);
  if (result.exitCode === 0) return;
  const where = describeHost(session.host);
  if (result.exitCode === 17) {
    throw new KvmCloneError(
      ErrorCode.VM_EXISTS_ERROR,
      `${to} already exists on ${where}; ${from} is not renamed over it, and both are left as they are`,
      { path: to, from },
      { retryable: false },
    );
  }
  if (result.exitCode === 18) {
    throw new KvmCloneError(
      ErrorCode.INVALID_PATH,
      `${from} on ${where} is not a regular file this operation made; it is not renamed`,
      { path: from },
      { retryable: false },
    );
  }
  if (result.exitCode === 19) {
    throw new KvmCloneError(
      ErrorCode.TRANSFER_ERROR,
      `neither ${from} nor ${to} is a regular file on ${where}: the copy is gone`,
      { path: from, to },
      { retryable: false },
    );
  }
  throw new KvmCloneError(
    ErrorCode.TRANSFER_ERROR,
    `${where}: renaming ${from} to ${to} failed: ${result.stderr.trim() || `exit status ${result.exitCode ?? result.signal}`}`,
    { path: from, to },
  );
}

export function finalizeFiles(deps: ActivityDeps) {
  /**
   * Gives verified copies their final names, re-links backing chains to the copied
   * layers (or merges each chain into one image), and refreshes the storage pool.
   * Every path must lie under the destination's writable roots (1302 before anything is
   * touched); a rename never replaces a file that is there (1004 naming it).
   * Every step can run again after a lost reply.
   */
  return async function finalizeFiles(input: FinalizeFilesInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const flattened = input.flatten ? input.chains.filter((chain) => chain.layers.length > 1) : [];
        await assertWritable(
          session,
          [
            ...input.renames.flatMap(({ from, to }) => [from, to]),
            ...input.chains.flatMap((chain) => chain.layers.map((layer) => layer.path)),
            ...flattened.map((chain) => flattenedPathFor(chain.layers[0]!.path)),
          ],
          'destination file',
        );
        for (const { from, to } of input.renames) await renameNoClobber(session, from, to);
        const disk = new RemoteDisk(session);
        for (const { layers } of input.chains) {
          const top = layers[0]!;
          const flatten = input.flatten && layers.length > 1;
          // A retry after the merged image replaced the top: it has no backing file any more, and re-linking it would corrupt it.
          if (flatten && (await disk.imageInfo(top.path, top.format)).backingFile === undefined) {
            await disk.removeFiles(layers.slice(1).map((layer) => layer.path));
            continue;
          }
          for (let depth = 0; depth < layers.length - 1; depth++) {
            const below = layers[depth + 1]!;
            await disk.rebaseUnsafe(layers[depth]!.path, below.path, below.format);
          }
          if (flatten) {
            const flat = flattenedPathFor(top.path);
            // A merged image left by a lost attempt is this operation's (its partial name); anything else there is refused.
            await disk.removeFiles([flat]);
            await disk.createSparseFile(flat, 0);
            // One qemu-img convert as long as the chain is big: the ticker keeps the heartbeat alive meanwhile.
            await whileTicking(
              (details) => Context.current().heartbeat(details),
              () => ({ flattening: top.path }),
              () => disk.flattenInto(top.path, flat, top.format, top.format),
            );
            await session.run(sh`mv -f -T -- ${flat} ${top.path}`, {
              what: `replacing ${top.path}`,
              failureCode: ErrorCode.TRANSFER_ERROR,
            });
            await disk.removeFiles(layers.slice(1).map((layer) => layer.path));
          }
        }
        if (input.pool) await new Libvirt(session).refreshPool(input.pool);
      }),
    );
  };
}
