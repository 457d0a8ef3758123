import type { FileDigest } from '../domain/clone-result';
import type { HostRef } from '../domain/schemas/host';
import type { Extent } from '../domain/transfer-plan';
import { remoteSha256 } from '../hosts/remote-digest';
import { throttledHeartbeat, withHost, type ActivityDeps } from './deps';
import { whileTicking } from './heartbeat-ticker';

/** A source file and its copy on the destination. */
export interface FilePair {
  source: HostRef;
  destination: HostRef;
  sourcePath: string;
  destinationPath: string;
}

export interface DigestPair {
  source: FileDigest;
  destination: FileDigest;
}

/**
 * SHA-256 of both files, or of the same `extents` of each taken as one stream, each
 * computed on its own host from the bytes on disk, at the same time. A whole disk or a
 * 4 GiB range is minutes of hashing on a slow disk: a ticker heartbeats meanwhile (the
 * verify activities' heartbeat timeout is a minute).
 */
export function digestPair(deps: ActivityDeps, files: FilePair, extents?: readonly Extent[]): Promise<DigestPair> {
  return whileTicking(
    throttledHeartbeat(),
    () => ({ hashing: true }),
    async () => {
      const [source, destination] = await Promise.all([
        withHost(deps, files.source, (session) => remoteSha256(session, files.sourcePath, extents)),
        withHost(deps, files.destination, (session) => remoteSha256(session, files.destinationPath, extents)),
      ]);
      return { source, destination };
    },
  );
}
