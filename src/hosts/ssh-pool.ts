import type { HostSpec } from '../domain/schemas/host';
import { openSshSession, type SshSession } from './ssh-session';

interface IdleSession {
  session: SshSession;
  timer: NodeJS.Timeout;
}

/**
 * Connections are shared only between identical host specifications: activities read
 * per-host settings (storage directory or pool, libvirt URI) from their session's spec.
 */
function poolKey(host: HostSpec): string {
  return JSON.stringify(Object.entries(host).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The worker's SSH connections, kept per host and reused across activities and
 * operations. A lease is exclusive, so each parallel transfer gets its own connection
 * (sshd serves one connection with one single-threaded process). Idle connections
 * close after `idleTimeoutMs`; dead ones are dropped, never handed out.
 */
export class SshPool {
  private readonly idle = new Map<string, IdleSession[]>();
  private closed = false;

  constructor(
    private readonly options: { idleTimeoutMs?: number; open?: (host: HostSpec) => Promise<SshSession> } = {},
  ) {}

  async acquire(host: HostSpec): Promise<SshSession> {
    const sessions = this.idle.get(poolKey(host)) ?? [];
    for (let entry = sessions.pop(); entry; entry = sessions.pop()) {
      clearTimeout(entry.timer);
      if (entry.session.alive) return entry.session;
    }
    return (this.options.open ?? openSshSession)(host);
  }

  release(session: SshSession): void {
    if (!session.alive || this.closed) {
      session.close();
      return;
    }
    const key = poolKey(session.host);
    const sessions = this.idle.get(key) ?? [];
    const entry: IdleSession = {
      session,
      timer: setTimeout(() => {
        sessions.splice(sessions.indexOf(entry), 1);
        session.close();
      }, this.options.idleTimeoutMs ?? 60_000),
    };
    entry.timer.unref();
    sessions.push(entry);
    this.idle.set(key, sessions);
  }

  /** Runs `use` with a session of its own, returning the session to the pool after. */
  async withSession<T>(host: HostSpec, use: (session: SshSession) => Promise<T>): Promise<T> {
    const session = await this.acquire(host);
    try {
      return await use(session);
    } finally {
      this.release(session);
    }
  }

  get idleCount(): number {
    let count = 0;
    for (const sessions of this.idle.values()) count += sessions.length;
    return count;
  }

  closeAll(): void {
    this.closed = true;
    for (const sessions of this.idle.values()) {
      for (const { session, timer } of sessions) {
        clearTimeout(timer);
        session.close();
      }
    }
    this.idle.clear();
  }
}
