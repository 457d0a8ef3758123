import type { FileDataMap } from '../domain/copied-file';
import type { HostRef } from '../domain/schemas/host';
import { MiB, summarizeExtents, totalLength } from '../domain/transfer-plan';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, throttledHeartbeat, withHost, type ActivityDeps } from './deps';
import { whileTicking } from './heartbeat-ticker';

export interface MapFilesInput {
  source: HostRef;
  files: { sourcePath: string; fileSize: number }[];
}

/** Coarse enough that the map of a fragmented 100 GiB disk fits in workflow history. */
const windowSize = 64 * MiB;

export function mapFiles(deps: ActivityDeps) {
  /**
   * Maps where each file holds data, so only data crosses the wire and holes stay holes.
   * A block device is read whole to find its zeros, minutes for a big one: a ticker
   * heartbeats meanwhile, with how many files are mapped.
   */
  return async function mapFiles(input: MapFilesInput): Promise<FileDataMap[]> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const disk = new RemoteDisk(session);
        const maps: FileDataMap[] = [];
        await whileTicking(
          throttledHeartbeat(),
          () => ({ filesMapped: maps.length }),
          async () => {
            for (const file of input.files) {
              const extents = await disk.dataExtents(file.sourcePath, { start: 0, length: file.fileSize });
              maps.push({ dataWindows: summarizeExtents(extents, windowSize), dataBytes: totalLength(extents) });
            }
          },
        );
        return maps;
      }),
    );
  };
}
