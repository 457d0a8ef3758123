import type { FileDigest } from '../domain/clone-result';
import type { HostRef } from '../domain/schemas/host';
import { remoteSha256 } from '../hosts/remote-digest';
import { activityBody, throttledHeartbeat, withHost, type ActivityDeps } from './deps';

export interface VerifyFileInput {
  source: HostRef;
  destination: HostRef;
  sourcePath: string;
  destinationPath: string;
}

export interface FileVerification {
  source: FileDigest;
  destination: FileDigest;
}

export function verifyFile(deps: ActivityDeps) {
  /**
   * Computes the SHA-256 of the source file on the source host and of the copy on the
   * destination host, at the same time, each from the bytes on disk. The workflow
   * compares them: a mismatch is a fact to act on, not a reason to hash again.
   */
  return async function verifyFile(input: VerifyFileInput): Promise<FileVerification> {
    return activityBody(async () => {
      const heartbeat = throttledHeartbeat(5000);
      const ticker = setInterval(() => heartbeat({ hashing: true }), 5000);
      try {
        const [source, destination] = await Promise.all([
          withHost(deps, input.source, (session) => remoteSha256(session, input.sourcePath)),
          withHost(deps, input.destination, (session) => remoteSha256(session, input.destinationPath)),
        ]);
        return { source, destination };
      } finally {
        clearInterval(ticker);
      }
    });
  };
}
