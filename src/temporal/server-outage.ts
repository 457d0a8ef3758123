import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError } from '@temporalio/client';

/** gRPC's UNAVAILABLE: no server answered (stopped, restarting, unreachable), so the call did nothing. */
const UNAVAILABLE = 14;

/**
 * An attempt that ran this long reached a server: the SDK gives up on a server that does not
 * answer after about 20 s of its own retries. The outage before such an attempt is over.
 */
const REACHED_SERVER_MS = 60_000;

export interface OutagePatience {
  /** How long the server may stay unreachable before the call's error is thrown (default 10 min). */
  patienceMs?: number;
  /** Pause between attempts, on top of the SDK's own backoff inside each (default 1 s). */
  intervalMs?: number;
}

/** Whether an error, or an error it was caused by, is a gRPC call no server answered. */
export function isServerUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && depth < 10; depth += 1) {
    if (isGrpcServiceError(current)) return current.code === UNAVAILABLE;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

/**
 * Runs a call again while the Temporal server does not answer, for a server restart or
 * upgrade to pass: a workflow keeps running on the server's own storage meanwhile, so a
 * caller waiting for its result should wait the outage out rather than report the operation
 * as failed. For calls that change nothing or are safe to repeat (a result, a describe).
 * Other errors, and an outage longer than the patience, are thrown as they are.
 */
export async function acrossServerOutages<T>(call: () => Promise<T>, patience: OutagePatience = {}): Promise<T> {
  const patienceMs = patience.patienceMs ?? 10 * 60_000;
  const intervalMs = patience.intervalMs ?? 1_000;
  let outageSince: number | undefined;
  for (;;) {
    const attemptStarted = Date.now();
    try {
      return await call();
    } catch (error) {
      if (!isServerUnavailable(error)) throw error;
      const failed = Date.now();
      // A long attempt was answered until shortly before it failed; a short one may not have been answered at all.
      if (failed - attemptStarted > REACHED_SERVER_MS) outageSince = failed;
      else outageSince ??= attemptStarted;
      if (failed - outageSince > patienceMs) throw error;
      await sleep(intervalMs);
    }
  }
}
