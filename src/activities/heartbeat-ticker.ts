/** How often a ticker heartbeats: well inside the shortest heartbeat timeout (30 s). */
export const tickerIntervalMs = 5000;

/**
 * Runs `work`, one long remote call that reports nothing until it ends (hashing a whole
 * range, a push in direct mode), while heartbeating `details()` every few seconds. The
 * heartbeat then says the worker and its SSH session are alive; the call's own timeout,
 * or SSH keepalives, catch a host that stopped answering.
 */
export async function whileTicking<T, D>(
  heartbeat: (details: D) => void,
  details: () => D,
  work: () => Promise<T>,
  intervalMs = tickerIntervalMs,
): Promise<T> {
  const ticker = setInterval(() => heartbeat(details()), intervalMs);
  try {
    return await work();
  } finally {
    clearInterval(ticker);
  }
}
