import { CancelledFailure, Context } from '@temporalio/activity';
import { toApplicationFailure } from '../failures';
import type { HostRef } from '../domain/schemas/host';
import { SshPool } from '../hosts/ssh-pool';
import type { SshSession } from '../hosts/ssh-session';
import { DEFAULT_WORKER_POLICY, type WorkerPolicy } from '../domain/schemas/worker-policy';
import type { ConfiguredWebhook } from '../domain/schemas/notify';
import { HostRegistry } from './host-registry';

/** What activities share inside one worker process. */
export interface ActivityDeps {
  pool: SshPool;
  hosts: HostRegistry;
  /** The operator's policy: what a workflow input may ask of this worker. */
  policy: WorkerPolicy;
  /** Webhooks configured on this worker, by name: workflow inputs name them, their URLs and secrets stay here. */
  webhooks: Readonly<Record<string, ConfiguredWebhook>>;
}

export function createActivityDeps(
  options: {
    hosts?: HostRegistry;
    pool?: SshPool;
    policy?: WorkerPolicy;
    webhooks?: Record<string, ConfiguredWebhook>;
  } = {},
): ActivityDeps {
  const policy = options.policy ?? DEFAULT_WORKER_POLICY;
  return {
    pool: options.pool ?? new SshPool(),
    hosts: options.hosts ?? new HostRegistry({}, policy),
    policy,
    webhooks: options.webhooks ?? {},
  };
}

export function withHost<T>(deps: ActivityDeps, ref: HostRef, use: (session: SshSession) => Promise<T>): Promise<T> {
  return deps.pool.withSession(deps.hosts.resolve(ref), use);
}

/**
 * Runs an activity body, turning kvm-clone errors into Temporal failures with their codes.
 * Once the activity is cancelled, whatever the body fails with (often a channel it had to
 * close) is reported as the cancellation, so the workflow sees a cancellation.
 */
export async function activityBody<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const signal = Context.current().cancellationSignal;
    if (signal.aborted)
      throw signal.reason instanceof Error ? signal.reason : new CancelledFailure(String(signal.reason));
    throw toApplicationFailure(error);
  }
}

/**
 * Heartbeats at most every `intervalMs`, so per-chunk progress callbacks stay cheap. When
 * the activity is cancelled (by the workflow, or with WORKER_SHUTDOWN when the worker gets
 * SIGTERM), the latest details the throttle held back are sent at once, so the last
 * heartbeat, which the SDK flushes before it reports the attempt, has the latest progress.
 */
export function throttledHeartbeat(intervalMs = 1000): (details: unknown, force?: boolean) => void {
  const context = Context.current();
  let last = 0;
  let held: { details: unknown } | undefined;
  context.cancellationSignal.addEventListener(
    'abort',
    () => {
      if (held) context.heartbeat(held.details);
      held = undefined;
    },
    { once: true },
  );
  return (details, force = false) => {
    const now = Date.now();
    if (force || now - last >= intervalMs) {
      last = now;
      held = undefined;
      context.heartbeat(details);
    } else {
      held = { details };
    }
  };
}
