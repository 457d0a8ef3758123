import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { RateLimiter } from '../../../src/hosts/rate-limiter';

function fakeClock() {
  let nowMs = 0;
  return { now: () => nowMs, advance: (ms: number) => void (nowMs += ms) };
}

describe('RateLimiter', () => {
  it('lets a burst through at once, then charges the excess at the set rate', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(1000, { now: clock.now, burstBytes: 100 });
    expect(limiter.delayFor(100)).toBe(0);
    expect(limiter.delayFor(500)).toBe(500);
  });

  it('refills with time, up to the burst size only', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(1000, { now: clock.now, burstBytes: 100 });
    limiter.delayFor(100);
    clock.advance(50);
    expect(limiter.delayFor(50)).toBe(0);
    clock.advance(60_000);
    // A long idle spell still allows only one burst.
    expect(limiter.delayFor(100)).toBe(0);
    expect(limiter.delayFor(10)).toBe(10);
  });

  it('carries debt: a chunk larger than the bucket passes, and the next one waits it off', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(1000, { now: clock.now, burstBytes: 10 });
    expect(limiter.delayFor(2010)).toBe(2000);
    clock.advance(2000);
    expect(limiter.delayFor(1000)).toBe(1000);
  });

  it('holds the long-run rate whatever the chunk sizes, when callers wait as told', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(1_000_000, { now: clock.now });
    let sent = 0;
    for (const size of [32_768, 1, 65_536, 4_000, 32_768, 250_000, 7].flatMap((each) => Array<number>(40).fill(each))) {
      clock.advance(limiter.delayFor(size));
      sent += size;
    }
    // The first burst (a tenth of a second's worth) came free; everything else took its time.
    expect(clock.now()).toBeCloseTo(((sent - 100_000) / 1_000_000) * 1000, 6);
  });

  it('take() sleeps for the delay and only when there is one', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(1000, { now: clock.now, burstBytes: 100 });
    const sleeps: number[] = [];
    const sleep = async (ms: number) => void sleeps.push(ms);
    await limiter.take(100, sleep);
    await limiter.take(250, sleep);
    expect(sleeps).toEqual([250]);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses a rate of %d with code 1305', (rate) => {
    expect(() => new RateLimiter(rate)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_BANDWIDTH }));
  });
});
