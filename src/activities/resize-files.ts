import type { HostRef } from '../domain/schemas/host';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface ResizeFilesInput {
  destination: HostRef;
  files: { path: string; size: number }[];
}

export function resizeFiles(deps: ActivityDeps) {
  /** Gives existing destination files their source's size: a disk that grew or shrank. */
  return async function resizeFiles(input: ResizeFilesInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const disk = new RemoteDisk(session);
        for (const { path, size } of input.files) await disk.resize(path, size);
      }),
    );
  };
}
