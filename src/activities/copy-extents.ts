import type { DirectRoute } from '../domain/schemas/direct-route';
import { pushExtents } from '../hosts/direct-push';
import { relayExtents, type RelayOptions, type RelayResult } from '../hosts/extent-relay';

/**
 * A relay's options, plus the route for a direct push. A push's bytes never reach the
 * worker: onBytes then reports 0 every few seconds while it runs (so the activity keeps
 * heartbeating), and the wire bytes once, at its end.
 */
export interface CopyExtentsOptions extends RelayOptions {
  /** Push from the source host straight to the destination host instead of relaying. */
  direct?: DirectRoute;
}

/** One batch of extents from the source file into the destination file, relayed or pushed directly. */
export async function copyExtents(options: CopyExtentsOptions): Promise<RelayResult> {
  const { direct, ...relay } = options;
  if (!direct) return relayExtents(relay);
  const pushed = await pushExtents({
    source: relay.source,
    destinationHost: relay.destination.host,
    route: direct,
    sourcePath: relay.sourcePath,
    destinationPath: relay.destinationPath,
    extents: relay.extents,
    ...(relay.signal ? { signal: relay.signal } : {}),
    ...(relay.compression ? { compression: relay.compression } : {}),
    ...(relay.onBytes ? { onTick: () => relay.onBytes?.(0) } : {}),
  });
  relay.onBytes?.(pushed.wireBytes);
  return pushed;
}
