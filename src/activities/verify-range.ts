import type { FileDigest } from '../domain/clone-result';
import type { HostRef } from '../domain/schemas/host';
import type { Extent } from '../domain/transfer-plan';
import { remoteSha256 } from '../hosts/remote-digest';
import { activityBody, throttledHeartbeat, withHost, type ActivityDeps } from './deps';
import { whileTicking } from './heartbeat-ticker';

export interface VerifyRangeInput {
  source: HostRef;
  destination: HostRef;
  sourcePath: string;
  destinationPath: string;
  range: Extent;
  /** Only these parts of the range, hashed as one stream: what a checkpoint sync wrote or compared. */
  extents?: Extent[];
}

export interface RangeDigests {
  source: FileDigest;
  destination: FileDigest;
}

export function verifyRange(deps: ActivityDeps) {
  /**
   * SHA-256 of one range on each host, from the bytes on disk, at the same time. The
   * workflow compares them and copies the range again on a mismatch. A range is up to
   * 4 GiB, minutes of hashing on a slow disk: a ticker heartbeats meanwhile (verifyOptions'
   * heartbeat timeout is a minute).
   */
  return async function verifyRange(input: VerifyRangeInput): Promise<RangeDigests> {
    return activityBody(() =>
      whileTicking(
        throttledHeartbeat(),
        () => ({ hashing: true }),
        async () => {
          const [source, destination] = await Promise.all([
            withHost(deps, input.source, (session) =>
              remoteSha256(session, input.sourcePath, input.extents ?? [input.range]),
            ),
            withHost(deps, input.destination, (session) =>
              remoteSha256(session, input.destinationPath, input.extents ?? [input.range]),
            ),
          ]);
          return { source, destination };
        },
      ),
    );
  };
}
