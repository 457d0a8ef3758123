import { z } from 'zod';
import { parseSize } from '../sizes';

const hint =
  'write bytes per second as a positive integer, or a size per second such as 500K, 100M, 100MB or 1.5G (K = 1024)';

/**
 * A bandwidth limit in bytes per second: a number, or a size string read with the binary
 * units of parseSize (`100M` is 100 MiB/s). Zero is rejected rather than read as
 * "unlimited", so a typo cannot silently remove the limit.
 */
export const bandwidthLimitSchema = z.union([z.number(), z.string()]).transform((value, context) => {
  const bytesPerSecond = typeof value === 'number' ? value : parseSize(value);
  if (bytesPerSecond === undefined) {
    context.addIssue({ code: 'custom', message: `'${value}' is not a bandwidth: ${hint}` });
    return z.NEVER;
  }
  if (!Number.isSafeInteger(bytesPerSecond) || bytesPerSecond <= 0) {
    context.addIssue({
      code: 'custom',
      message: `${JSON.stringify(value)} is not a usable bandwidth limit (it must be more than 0 bytes per second): ${hint}`,
    });
    return z.NEVER;
  }
  return bytesPerSecond;
});

export type BandwidthLimit = z.output<typeof bandwidthLimitSchema>;
