import { Context } from '@temporalio/activity';
import { toApplicationFailure } from '../failures';
import type { HostRef } from '../domain/schemas/host';
import { SshPool } from '../hosts/ssh-pool';
import type { SshSession } from '../hosts/ssh-session';
import { HostRegistry } from './host-registry';

/** What activities share inside one worker process. */
export interface ActivityDeps {
  pool: SshPool;
  hosts: HostRegistry;
}

export function createActivityDeps(options: { hosts?: HostRegistry; pool?: SshPool } = {}): ActivityDeps {
  return { pool: options.pool ?? new SshPool(), hosts: options.hosts ?? new HostRegistry() };
}

export function withHost<T>(deps: ActivityDeps, ref: HostRef, use: (session: SshSession) => Promise<T>): Promise<T> {
  return deps.pool.withSession(deps.hosts.resolve(ref), use);
}

/** Runs an activity body, turning kvm-clone errors into Temporal failures with their codes. */
export async function activityBody<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toApplicationFailure(error);
  }
}

/** Heartbeats at most every `intervalMs`, so per-chunk progress callbacks stay cheap. */
export function throttledHeartbeat(intervalMs = 1000): (details: unknown, force?: boolean) => void {
  let last = 0;
  return (details, force = false) => {
    const now = Date.now();
    if (force || now - last >= intervalMs) {
      last = now;
      Context.current().heartbeat(details);
    }
  };
}
