export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
/** MB/s in the table are 10^6 bytes per second, like the reference measurements. */
export const MB = 1_000_000;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Parses sizes such as 512M, 2G, 64K or a plain byte count. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)i?B?$/i.exec(text.trim());
  if (!match) throw new Error(`not a size: ${text}`);
  const units: Record<string, number> = { '': 1, K: 1024, M: MiB, G: GiB, T: 1024 * GiB };
  return Math.round(Number(match[1]) * units[match[2]!.toUpperCase()]!);
}

export function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % (GiB / 4) === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB) return `${Math.round((bytes / MiB) * 10) / 10} MiB`;
  return `${bytes} B`;
}
