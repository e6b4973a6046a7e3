// Token bucket per client: a burst allowance refilled at a steady rate, so floods are refused without timers.

export interface RateLimiter {
  /** Take one frame; false when the client is over its rate. */
  take(now?: number): boolean;
}

export function createRateLimiter(perSecond: number, burst: number): RateLimiter {
  let tokens = burst;
  let last = performance.now();
  return {
    take(now = performance.now()) {
      tokens = Math.min(burst, tokens + ((now - last) * perSecond) / 1000);
      last = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
