import { activityBody, type ActivityDeps } from './deps';
import { digestPair, type DigestPair, type FilePair } from './digest-pair';

export type VerifyFileInput = FilePair;

export type FileVerification = DigestPair;

export function verifyFile(deps: ActivityDeps) {
  /**
   * Computes the SHA-256 of the source file on the source host and of the copy on the
   * destination host, at the same time, each from the bytes on disk. The workflow
   * compares them: a mismatch is a fact to act on, not a reason to hash again.
   */
  return async function verifyFile(input: VerifyFileInput): Promise<FileVerification> {
    return activityBody(() => digestPair(deps, input));
  };
}
