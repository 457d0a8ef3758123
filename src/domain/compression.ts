/** How the relay compresses the stream between the two hosts' `dd`s. */
export type CompressionCodec = 'zstd' | 'lz4' | 'none';

/** The compressors a host has; each end needs the same one. */
export interface CompressionTools {
  zstd: boolean;
  lz4: boolean;
}

export interface CompressionChoice {
  codec: CompressionCodec;
  /** Set when compression was asked for but cannot be used: says what is missing where. */
  warning?: string;
}

/** Best first: zstd compresses better at the same speed; lz4 costs the least CPU. */
const preference = ['zstd', 'lz4'] as const;

function missingOn(tool: keyof CompressionTools, source: CompressionTools, destination: CompressionTools): string {
  const ends = [source[tool] ? undefined : 'source', destination[tool] ? undefined : 'destination'].filter(Boolean);
  return `${tool} is missing on the ${ends.join(' and ')}`;
}

/**
 * Picks the codec both hosts can run. Falling back to no compression is never an error:
 * the copy stays correct, only slower over a slow network, so the caller shows the warning.
 */
export function chooseCompression(
  requested: boolean,
  source: CompressionTools,
  destination: CompressionTools,
): CompressionChoice {
  if (!requested) return { codec: 'none' };
  const codec = preference.find((tool) => source[tool] && destination[tool]);
  if (codec) return { codec };
  const missing = preference.map((tool) => missingOn(tool, source, destination)).join('; ');
  return { codec: 'none', warning: `compression is off: ${missing}` };
}
