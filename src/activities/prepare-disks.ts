import { ErrorCode, KvmCloneError } from '../errors';
import type { HostRef } from '../domain/schemas/host';
import { isPartialPath } from '../domain/writable-roots';
import { RemoteDisk } from '../hosts/remote-disk';
import { describeHost } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { assertWritable } from './writable-paths';

export interface PrepareDisksInput {
  destination: HostRef;
  /**
   * With a format (from the domain XML, never probed), an empty image of that format and
   * virtual size, for a live migration to mirror into; without one, a sparse file.
   */
  disks: { path: string; size: number; format?: string; keepExisting?: boolean }[];
}

/** The files this call created: a file kept with `keepExisting` is not among them. */
export interface PreparedDisks {
  created: string[];
}

export function prepareDisks(deps: ActivityDeps) {
  /**
   * Creates each destination file empty and at its final size, so every range can be
   * written at its offset and holes stay holes. Files are created exclusively: anything
   * already at a path is someone else's (1004), except a regular file at an operation's
   * partial path (`*.kvm-clone-<tag>.part`), which only this operation names, so a retry
   * recreates its own partial copy. Every path is checked before any file is created.
   * With `keepExisting` (a log file an earlier guest left), a regular file already there is
   * kept as it is.
   */
  return async function prepareDisks(input: PrepareDisksInput): Promise<PreparedDisks> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const where = describeHost(session.host);
        const resolved = await assertWritable(
          session,
          input.disks.map((disk) => disk.path),
          'destination file',
        );
        const ownPartials: string[] = [];
        const kept = new Set<string>();
        for (const [index, path] of resolved.entries()) {
          if (path.kind === 'missing') continue;
          if (path.kind === 'file' && input.disks[index]!.keepExisting) {
            kept.add(input.disks[index]!.path);
            continue;
          }
          if (path.kind === 'file' && isPartialPath(path.path)) {
            ownPartials.push(path.path);
            continue;
          }
          throw new KvmCloneError(
            ErrorCode.VM_EXISTS_ERROR,
            `destination file ${path.path} already exists on ${where} (${path.kind === 'file' ? 'a file' : `a ${path.kind}`} this operation did not create); it is left as it is`,
            { path: path.path, kind: path.kind },
            { retryable: false },
          );
        }
        const disk = new RemoteDisk(session);
        await disk.removeFiles(ownPartials);
        const toCreate = input.disks.filter((each) => !kept.has(each.path));
        for (const { path, size, format } of toCreate)
          await (format && format !== 'raw' ? disk.createImage(path, format, size) : disk.createSparseFile(path, size));
        return { created: toCreate.map((each) => each.path) };
      }),
    );
  };
}
