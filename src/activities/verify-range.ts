import type { Extent } from '../domain/transfer-plan';
import { activityBody, type ActivityDeps } from './deps';
import { digestPair, type DigestPair, type FilePair } from './digest-pair';

export interface VerifyRangeInput extends FilePair {
  range: Extent;
  /** Only these parts of the range, hashed as one stream: what a checkpoint sync wrote or compared. */
  extents?: Extent[];
}

export type RangeDigests = DigestPair;

export function verifyRange(deps: ActivityDeps) {
  /**
   * SHA-256 of one range on each host, from the bytes on disk, at the same time. The
   * workflow compares them and copies the range again on a mismatch.
   */
  return async function verifyRange(input: VerifyRangeInput): Promise<RangeDigests> {
    return activityBody(() => digestPair(deps, input, input.extents ?? [input.range]));
  };
}
