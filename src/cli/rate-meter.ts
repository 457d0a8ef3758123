/** Speed and time left from successive byte counts, smoothed so the numbers don't jump. */
export class RateMeter {
  private last: { time: number; bytes: number } | undefined;
  private rate = 0;

  constructor(private readonly smoothing = 0.3) {}

  sample(bytesDone: number, bytesTotal: number, now: number): { bytesPerSecond: number; etaSeconds?: number } {
    if (this.last && now > this.last.time) {
      const instant = Math.max(0, ((bytesDone - this.last.bytes) * 1000) / (now - this.last.time));
      this.rate = this.rate === 0 ? instant : this.rate * (1 - this.smoothing) + instant * this.smoothing;
    }
    if (!this.last || now > this.last.time) this.last = { time: now, bytes: bytesDone };
    const remaining = Math.max(0, bytesTotal - bytesDone);
    return {
      bytesPerSecond: Math.round(this.rate),
      ...(this.rate > 0 ? { etaSeconds: Math.ceil(remaining / this.rate) } : {}),
    };
  }
}
