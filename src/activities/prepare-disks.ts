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
  disks: { path: string; size: number; format?: string }[];
}

export function prepareDisks(deps: ActivityDeps) {
  /**
   * Creates each destination file empty and at its final size, so every range can be
   * written at its offset and holes stay holes. Files are created exclusively: anything
   * already at a path is someone else's (1004), except a regular file at an operation's
   * partial path (`*.kvm-clone-<tag>.part`), which only this operation names, so a retry
   * recreates its own partial copy. Every path is checked before any file is created.
   */
  return async function prepareDisks(input: PrepareDisksInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const where = describeHost(session.host);
        const resolved = await assertWritable(
          session,
          input.disks.map((disk) => disk.path),
          'destination file',
        );
        const ownPartials: string[] = [];
        for (const path of resolved) {
          if (path.kind === 'missing') continue;
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
        for (const { path, size, format } of input.disks)
          await (format && format !== 'raw' ? disk.createImage(path, format, size) : disk.createSparseFile(path, size));
      }),
    );
  };
}
