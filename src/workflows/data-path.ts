import { chooseCompression, type CompressionCodec, type CompressionTools } from '../domain/compression';

/** How an operation's data moves between the hosts. */
export interface DataPath {
  compression: CompressionCodec;
  transport: 'direct' | 'relay';
  /** What each range's copy adds to its request: the pace of one lane, and a direct push. */
  route: { bytesPerSecond?: number; direct?: true };
}

/**
 * The data path an operation's options ask for and both hosts can run; what it cannot have
 * is said in `warnings`. The relay is where the bandwidth limit is enforced, shared by the
 * parallel lanes, so a limited operation relays instead of pushing directly.
 */
export function chooseDataPath(
  options: { compress: boolean; direct?: boolean | undefined; bandwidthLimit?: number | undefined; parallel: number },
  sourceTools: CompressionTools,
  destinationTools: CompressionTools,
  warnings: string[],
): DataPath {
  const direct = options.bandwidthLimit === undefined && options.direct === true;
  if (options.direct && !direct)
    warnings.push('bandwidthLimit is enforced by the relay, so this operation relays instead of pushing directly');
  const compression = chooseCompression(options.compress, sourceTools, destinationTools);
  if (compression.warning) warnings.push(compression.warning);
  const bytesPerSecond =
    options.bandwidthLimit === undefined
      ? undefined
      : Math.max(1, Math.floor(options.bandwidthLimit / options.parallel));
  return {
    compression: compression.codec,
    transport: direct ? 'direct' : 'relay',
    route: { ...(bytesPerSecond ? { bytesPerSecond } : {}), ...(direct ? { direct: true as const } : {}) },
  };
}
