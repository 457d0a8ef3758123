import { Transform, type TransformCallback } from 'node:stream';
import type { RateLimiter } from './rate-limiter';

/**
 * A pass-through stream that holds each chunk until the limiter allows it. While it
 * holds one, its small write buffer fills and `pipe()` pauses the upstream channel, so
 * ssh2 stops granting window to the sender: memory stays at one chunk plus the
 * channel's window, however slow the limit.
 */
export function throttle(limiter: RateLimiter): Transform {
  let timer: NodeJS.Timeout | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const delayMs = limiter.delayFor(chunk.length);
      if (delayMs <= 0) {
        callback(null, chunk);
        return;
      }
      timer = setTimeout(() => {
        timer = undefined;
        callback(null, chunk);
      }, delayMs);
    },
    destroy(error, callback) {
      clearTimeout(timer);
      callback(error);
    },
  });
}
