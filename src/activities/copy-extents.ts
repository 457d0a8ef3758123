import type { CompressionCodec } from '../domain/compression';
import type { DirectRoute } from '../domain/schemas/direct-route';
import type { Extent } from '../domain/transfer-plan';
import { pushExtents } from '../hosts/direct-push';
import { relayExtents, type RelayResult } from '../hosts/extent-relay';
import type { SshSession } from '../hosts/ssh-session';

export interface CopyExtentsOptions {
  source: SshSession;
  destination: SshSession;
  sourcePath: string;
  destinationPath: string;
  extents: readonly Extent[];
  compression?: CompressionCodec;
  bytesPerSecond?: number;
  /** Push from the source host straight to the destination host instead of relaying. */
  direct?: DirectRoute;
  /** Wire bytes as they pass the worker; a direct push reports once, at its end. */
  onBytes?: (bytes: number) => void;
  signal: AbortSignal;
}

/** One batch of extents from the source file into the destination file, relayed or pushed directly. */
export async function copyExtents(options: CopyExtentsOptions): Promise<RelayResult> {
  const common = {
    sourcePath: options.sourcePath,
    destinationPath: options.destinationPath,
    extents: options.extents,
    signal: options.signal,
    ...(options.compression ? { compression: options.compression } : {}),
  };
  if (options.direct) {
    const pushed = await pushExtents({ ...common, source: options.source, destinationHost: options.destination.host, route: options.direct });
    options.onBytes?.(pushed.wireBytes);
    return pushed;
  }
  return relayExtents({
    ...common,
    source: options.source,
    destination: options.destination,
    ...(options.bytesPerSecond ? { bytesPerSecond: options.bytesPerSecond } : {}),
    ...(options.onBytes ? { onBytes: options.onBytes } : {}),
  });
}
