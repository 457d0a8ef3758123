import type { HostRef } from '../domain/schemas/host';
import { RemoteDisk } from '../hosts/remote-disk';
import { describeHost } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { assertWritable, requireRegularFile } from './writable-paths';

export interface ResizeFilesInput {
  destination: HostRef;
  files: { path: string; size: number }[];
}

export function resizeFiles(deps: ActivityDeps) {
  /**
   * Gives existing destination files their source's size: a disk that grew or shrank. Regular files under the writable
   * roots only.
   */
  return async function resizeFiles(input: ResizeFilesInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const resolved = await assertWritable(
          session,
          input.files.map((file) => file.path),
          'file to resize',
        );
        for (const path of resolved) requireRegularFile(path, describeHost(session.host), 'file to resize');
        const disk = new RemoteDisk(session);
        for (const { path, size } of input.files) await disk.resize(path, size);
      }),
    );
  };
}
