import { afterEach, describe, expect, it, vi } from 'vitest';
import { hostSpecSchema, type HostSpec, type HostSpecInput } from '../../../src/domain/schemas/host';
import { SshPool } from '../../../src/hosts/ssh-pool';
import type { SshSession } from '../../../src/hosts/ssh-session';

/** Stands in for an SSH connection: the pool only uses host, alive and close(). */
class FakeSession {
  alive = true;
  closeCalls = 0;
  constructor(
    readonly host: HostSpec,
    readonly id: number,
  ) {}
  close(): void {
    this.closeCalls += 1;
    this.alive = false;
  }
}

function host(input: Partial<HostSpecInput> = {}): HostSpec {
  return hostSpecSchema.parse({ address: 'kvm1.lab', ...input });
}

function fakePool(idleTimeoutMs?: number) {
  const opened: FakeSession[] = [];
  const open = vi.fn(async (spec: HostSpec) => {
    const session = new FakeSession(spec, opened.length + 1);
    opened.push(session);
    return session as unknown as SshSession;
  });
  const pool = new SshPool({ open, ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }) });
  return { pool, open, opened };
}

const fake = (session: SshSession) => session as unknown as FakeSession;

afterEach(() => {
  vi.useRealTimers();
});

describe('SshPool leases', () => {
  it('opens a session for the host when none is idle', async () => {
    const { pool, open } = fakePool();
    const kvm1 = host();
    const session = await pool.acquire(kvm1);
    expect(open).toHaveBeenCalledTimes(1);
    expect(open).toHaveBeenCalledWith(kvm1);
    expect(session.host).toBe(kvm1);
    expect(pool.idleCount).toBe(0);
    pool.closeAll();
  });

  it('never shares a connection between specs that differ only in per-host settings', async () => {
    const { pool, open } = fakePool();
    const first = await pool.acquire(host({ storageDir: '/srv/a' }));
    pool.release(first);
    const second = await pool.acquire(host({ storageDir: '/srv/b', storagePool: 'images' }));
    expect(second).not.toBe(first);
    expect(second.host.storagePool).toBe('images');
    expect(open).toHaveBeenCalledTimes(2);
    pool.closeAll();
  });

  it('hands a released session to the next acquire instead of opening another', async () => {
    const { pool, open } = fakePool();
    const first = await pool.acquire(host());
    pool.release(first);
    expect(pool.idleCount).toBe(1);
    expect(await pool.acquire(host())).toBe(first);
    expect(open).toHaveBeenCalledTimes(1);
    expect(pool.idleCount).toBe(0);
    expect(fake(first).closeCalls).toBe(0);
    pool.closeAll();
  });

  it('gives concurrent leases sessions of their own', async () => {
    const { pool, open } = fakePool();
    const [a, b] = await Promise.all([pool.acquire(host()), pool.acquire(host())]);
    expect(a).not.toBe(b);
    expect(open).toHaveBeenCalledTimes(2);

    pool.release(a);
    pool.release(b);
    const [c, d] = await Promise.all([pool.acquire(host()), pool.acquire(host())]);
    expect(new Set([c, d])).toEqual(new Set([a, b]));
    expect(open).toHaveBeenCalledTimes(2);
    pool.closeAll();
  });

  it('does not share sessions between different hosts, ports, users or key policies', async () => {
    const { pool, open } = fakePool();
    const base = await pool.acquire(host());
    pool.release(base);
    for (const other of [
      host({ address: 'kvm2.lab' }),
      host({ port: 2222 }),
      host({ user: 'admin' }),
      host({ hostKeyPolicy: 'accept-new' }),
    ]) {
      const session = await pool.acquire(other);
      expect(session).not.toBe(base);
      pool.release(session);
    }
    expect(open).toHaveBeenCalledTimes(5);
    // An equal spec (a different object) finds the pooled session.
    expect(await pool.acquire(host())).toBe(base);
    pool.closeAll();
  });

  it('closes a dead session on release instead of pooling it', async () => {
    const { pool, open } = fakePool();
    const session = await pool.acquire(host());
    fake(session).alive = false;
    pool.release(session);
    expect(pool.idleCount).toBe(0);
    expect(fake(session).closeCalls).toBe(1);
    expect(await pool.acquire(host())).not.toBe(session);
    expect(open).toHaveBeenCalledTimes(2);
    pool.closeAll();
  });

  it('never hands out a session that died while idle', async () => {
    const { pool, open } = fakePool();
    const [a, b] = await Promise.all([pool.acquire(host()), pool.acquire(host())]);
    pool.release(a);
    pool.release(b);
    fake(b).alive = false;
    expect(await pool.acquire(host())).toBe(a);

    fake(a).alive = false;
    pool.release(a);
    const fresh = await pool.acquire(host());
    expect(fresh).not.toBe(a);
    expect(fresh).not.toBe(b);
    expect(fake(fresh).alive).toBe(true);
    expect(open).toHaveBeenCalledTimes(3);
    pool.closeAll();
  });

  it('passes on a failure to open', async () => {
    const failure = new Error('ECONNREFUSED');
    const pool = new SshPool({ open: () => Promise.reject(failure) });
    await expect(pool.acquire(host())).rejects.toBe(failure);
    await expect(pool.withSession(host(), async () => 'unused')).rejects.toBe(failure);
  });
});

describe('SshPool idle timeout', () => {
  it('closes a session that stays idle for idleTimeoutMs', async () => {
    vi.useFakeTimers();
    const { pool, open } = fakePool(1000);
    const session = await pool.acquire(host());
    pool.release(session);

    vi.advanceTimersByTime(999);
    expect(fake(session).closeCalls).toBe(0);
    expect(pool.idleCount).toBe(1);

    vi.advanceTimersByTime(1);
    expect(fake(session).closeCalls).toBe(1);
    expect(pool.idleCount).toBe(0);
    expect(await pool.acquire(host())).not.toBe(session);
    expect(open).toHaveBeenCalledTimes(2);
  });

  it('times out each idle session separately', async () => {
    vi.useFakeTimers();
    const { pool } = fakePool(100);
    const [a, b] = await Promise.all([pool.acquire(host()), pool.acquire(host())]);
    pool.release(a);
    vi.advanceTimersByTime(50);
    pool.release(b);
    vi.advanceTimersByTime(50);
    expect(fake(a).closeCalls).toBe(1);
    expect(fake(b).closeCalls).toBe(0);
    expect(pool.idleCount).toBe(1);
    expect(await pool.acquire(host())).toBe(b);
  });

  it('stops the idle timer of a session that is leased again', async () => {
    vi.useFakeTimers();
    const { pool } = fakePool(100);
    const session = await pool.acquire(host());
    pool.release(session);
    vi.advanceTimersByTime(50);
    expect(await pool.acquire(host())).toBe(session);
    vi.advanceTimersByTime(1000);
    expect(fake(session).closeCalls).toBe(0);
    pool.release(session);
    expect(pool.idleCount).toBe(1);
    vi.advanceTimersByTime(100);
    expect(fake(session).closeCalls).toBe(1);
  });

  it('waits a minute by default', async () => {
    vi.useFakeTimers();
    const { pool } = fakePool();
    const session = await pool.acquire(host());
    pool.release(session);
    vi.advanceTimersByTime(59_999);
    expect(fake(session).alive).toBe(true);
    vi.advanceTimersByTime(1);
    expect(fake(session).alive).toBe(false);
  });

  it('expires sessions with a tiny real timeout', async () => {
    const { pool } = fakePool(5);
    const session = await pool.acquire(host());
    pool.release(session);
    await vi.waitFor(() => expect(fake(session).closeCalls).toBe(1));
    expect(pool.idleCount).toBe(0);
  });
});

describe('SshPool.closeAll', () => {
  it('closes idle sessions, and sessions released afterwards', async () => {
    vi.useFakeTimers();
    const { pool } = fakePool(100);
    const [idle, leased] = await Promise.all([pool.acquire(host()), pool.acquire(host({ address: 'kvm2.lab' }))]);
    pool.release(idle);

    pool.closeAll();
    expect(fake(idle).closeCalls).toBe(1);
    expect(fake(leased).closeCalls).toBe(0);
    expect(pool.idleCount).toBe(0);

    pool.release(leased);
    expect(fake(leased).closeCalls).toBe(1);
    expect(pool.idleCount).toBe(0);
    // Timers were cleared: nothing closes twice.
    vi.advanceTimersByTime(1000);
    expect(fake(idle).closeCalls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('SshPool.withSession', () => {
  it('lends a session for the callback and returns it to the pool', async () => {
    const { pool, open } = fakePool();
    const result = await pool.withSession(host(), async (session) => {
      expect(pool.idleCount).toBe(0);
      return fake(session).id;
    });
    expect(result).toBe(1);
    expect(pool.idleCount).toBe(1);
    await pool.withSession(host(), async () => undefined);
    expect(open).toHaveBeenCalledTimes(1);
    pool.closeAll();
  });

  it('returns the session even when the callback throws', async () => {
    const { pool } = fakePool();
    const failure = new Error('command failed');
    await expect(
      pool.withSession(host(), async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(pool.idleCount).toBe(1);
    pool.closeAll();
  });

  it('nests: an inner lease while the outer one is held gets another session', async () => {
    const { pool } = fakePool();
    const ids = await pool.withSession(host(), async (outer) => {
      const inner = await pool.withSession(host(), async (session) => fake(session).id);
      return [fake(outer).id, inner];
    });
    expect(ids).toEqual([1, 2]);
    expect(pool.idleCount).toBe(2);
    pool.closeAll();
  });
});
