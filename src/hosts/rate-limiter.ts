import { ErrorCode, KvmCloneError } from '../errors';

export interface RateLimiterOptions {
  /** Milliseconds from any fixed origin; tests pass a fake clock. */
  now?: () => number;
  /** Bytes that may pass at once after an idle spell; defaults to a tenth of a second's worth. */
  burstBytes?: number;
}

/**
 * A token bucket: `bytesPerSecond` tokens flow in, up to `burstBytes`. Taking more than
 * the bucket holds is allowed and leaves a debt that the next callers wait off, so a chunk
 * bigger than the bucket (ssh2 delivers up to 32 KiB at a time) never blocks forever.
 */
export class RateLimiter {
  private readonly now: () => number;
  private readonly burstBytes: number;
  private tokens: number;
  private refilledAt: number;

  constructor(
    readonly bytesPerSecond: number,
    options: RateLimiterOptions = {},
  ) {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) {
      throw new KvmCloneError(
        ErrorCode.INVALID_BANDWIDTH,
        `a bandwidth limit must be more than 0 bytes per second, not ${bytesPerSecond}`,
      );
    }
    this.now = options.now ?? (() => performance.now());
    this.burstBytes = Math.max(1, options.burstBytes ?? bytesPerSecond / 10);
    this.tokens = this.burstBytes;
    this.refilledAt = this.now();
  }

  /**
   * Reserves `bytes` and returns how many milliseconds the caller must wait before
   * sending them (0 when the bucket covers them). Each call counts, waited or not.
   */
  delayFor(bytes: number): number {
    const now = this.now();
    const elapsedMs = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    this.tokens = Math.min(this.burstBytes, this.tokens + (elapsedMs * this.bytesPerSecond) / 1000);
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.bytesPerSecond;
  }

  /** Waits until `bytes` may be sent. */
  async take(bytes: number, sleep: (ms: number) => Promise<void> = defaultSleep): Promise<void> {
    const delayMs = this.delayFor(bytes);
    if (delayMs > 0) await sleep(delayMs);
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
