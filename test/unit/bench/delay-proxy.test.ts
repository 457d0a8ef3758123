import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DelayProxy, type Direction } from '../../../bench/lib/delay-proxy';

const host = '127.0.0.1';

interface Upstream {
  server: net.Server;
  port: number;
  /** The first connection the upstream accepted. */
  accepted: Promise<net.Socket>;
  /** Closes the server and the connections it accepted. */
  close(): Promise<void>;
}

/** A TCP server standing in for a lab sshd; `onConnection` decides what it does with each connection. */
async function upstream(onConnection: (socket: net.Socket) => void = () => undefined): Promise<Upstream> {
  let accept!: (socket: net.Socket) => void;
  const accepted = new Promise<net.Socket>((resolve) => (accept = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    accept(socket);
    onConnection(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { server, port: (server.address() as net.AddressInfo).port, accepted, close };
}

/** Everything a socket sends until it ends. */
function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** Writes `data` in pieces of random sizes (as an SSH stream would), then ends. */
function writeInPieces(socket: net.Socket, data: Buffer): void {
  let offset = 0;
  const next = () => {
    while (offset < data.length) {
      const length = Math.min(data.length - offset, 1 + Math.floor(Math.random() * 200_000));
      const piece = data.subarray(offset, offset + length);
      offset += length;
      if (!socket.write(piece)) {
        socket.once('drain', next);
        return;
      }
    }
    socket.end();
  };
  next();
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host, port, allowHalfOpen: true });
  await once(socket, 'connect');
  return socket;
}

/** Resolves when the proxy has queued `bytes` more bytes in `direction` (real I/O, no timers). */
function queued(proxy: DelayProxy, direction: Direction, bytes: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const listener = (which: Direction, count: number) => {
      if (which !== direction) return;
      seen += count;
      if (seen >= bytes) {
        proxy.off('queued', listener);
        resolve();
      }
    };
    proxy.on('queued', listener);
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(
  options: { delayMs?: number; maxQueuedBytes?: number } = {},
  onConnection?: (s: net.Socket) => void,
) {
  const target = await upstream(onConnection);
  cleanups.push(() => target.close());
  const proxy = await DelayProxy.start({ listenHost: host, targetHost: host, targetPort: target.port, ...options });
  cleanups.push(() => proxy.stop());
  return { target, proxy };
}

describe('DelayProxy', () => {
  it('carries bytes intact and in order in both directions, and passes each end on', async () => {
    const fromClient = randomBytes(8 * 1024 * 1024);
    const fromTarget = randomBytes(5 * 1024 * 1024 + 17);
    const { target, proxy } = await setUp({ delayMs: 2 }, (socket) => writeInPieces(socket, fromTarget));
    const client = await connect(proxy.port);
    cleanups.push(() => void client.destroy());
    const clientGot = readAll(client);
    const closed = once(client, 'close');
    writeInPieces(client, fromClient);
    const targetGot = readAll(await target.accepted);

    expect((await targetGot).equals(fromClient)).toBe(true);
    expect((await clientGot).equals(fromTarget)).toBe(true);
    expect(proxy.stats.forwarded).toEqual({ toTarget: fromClient.length, toClient: fromTarget.length });
    expect(proxy.stats.connections).toBe(1);
    // Both ends were passed on, so both connections close.
    await closed;
  });

  it('pauses a reader whose queue is full and keeps the order across pauses', async () => {
    const maxQueuedBytes = 256 * 1024;
    const data = randomBytes(32 * 1024 * 1024);
    // The target reads slowly at first: the queue towards it fills up.
    const { target, proxy } = await setUp({ delayMs: 1, maxQueuedBytes }, (socket) => socket.pause());
    const client = await connect(proxy.port);
    cleanups.push(() => void client.destroy());
    writeInPieces(client, data);
    const socket = await target.accepted;
    await new Promise<void>((resolve) => {
      const check = () => (proxy.stats.pauses > 0 ? resolve() : setImmediate(check));
      check();
    });
    const got = readAll(socket);
    socket.resume();

    expect((await got).equals(data)).toBe(true);
    expect(proxy.stats.pauses).toBeGreaterThan(0);
    // Bounded: the limit plus the chunks read before the pause took effect.
    expect(proxy.stats.peakQueuedBytes).toBeLessThan(maxQueuedBytes + 4 * 1024 * 1024);
  });

  it('holds every chunk for the delay, in each direction, and lets it through after', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { target, proxy } = await setUp({ delayMs: 100 });
    const client = await connect(proxy.port);
    cleanups.push(() => void client.destroy());
    const socket = await target.accepted;
    const upstreamData: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => upstreamData.push(chunk));

    const up = queued(proxy, 'toTarget', 5);
    client.write('hello');
    await up;
    expect(proxy.stats.forwarded.toTarget).toBe(0);
    vi.advanceTimersByTime(99);
    expect(proxy.stats.forwarded.toTarget).toBe(0);
    expect(Buffer.concat(upstreamData).length).toBe(0);
    const arrived = once(socket, 'data');
    vi.advanceTimersByTime(1);
    expect(proxy.stats.forwarded.toTarget).toBe(5);
    await arrived;
    expect(Buffer.concat(upstreamData).toString()).toBe('hello');

    const down = queued(proxy, 'toClient', 11);
    socket.write('world, back');
    await down;
    vi.advanceTimersByTime(99);
    expect(proxy.stats.forwarded.toClient).toBe(0);
    const back = once(client, 'data');
    vi.advanceTimersByTime(1);
    expect(proxy.stats.forwarded.toClient).toBe(11);
    expect(String((await back)[0])).toBe('world, back');
  });

  it('applies a changed delay to connections already open', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const { target, proxy } = await setUp({ delayMs: 50 });
    const client = await connect(proxy.port);
    cleanups.push(() => void client.destroy());
    const socket = await target.accepted;
    proxy.setDelay(0);
    const arrived = once(socket, 'data');
    const up = queued(proxy, 'toTarget', 3);
    client.write('now');
    await up;
    expect(proxy.stats.forwarded.toTarget).toBe(3);
    expect(String((await arrived)[0])).toBe('now');
    expect(() => proxy.setDelay(-1)).toThrow(/not a delay/);
  });

  it('closes the client when the target refuses the connection', async () => {
    const refused = await upstream();
    const port = refused.port;
    await refused.close();
    const proxy = await DelayProxy.start({ listenHost: host, targetHost: host, targetPort: port });
    cleanups.push(() => proxy.stop());
    const client = await connect(proxy.port);
    client.on('error', () => undefined);
    // The proxy ends the connection it accepted (FIN; the client is half-open, as sshd's clients are not).
    await once(client, 'end');
    expect(proxy.stats.forwarded).toEqual({ toTarget: 0, toClient: 0 });
  });

  it('closes the other side when one side resets', async () => {
    const { target, proxy } = await setUp({ delayMs: 1 });
    const client = await connect(proxy.port);
    client.on('error', () => undefined);
    const socket = await target.accepted;
    socket.on('error', () => undefined);
    const ended = once(socket, 'end');
    client.resetAndDestroy();
    await ended;
  });

  it('stop() closes the listener and every open connection', async () => {
    const { target, proxy } = await setUp({ delayMs: 1 });
    const client = await connect(proxy.port);
    client.on('error', () => undefined);
    const socket = await target.accepted;
    socket.on('error', () => undefined);
    const ended = Promise.all([once(client, 'end'), once(socket, 'end')]);
    await proxy.stop();
    await ended;
    const again = net.connect({ host, port: proxy.port });
    const [error] = (await once(again, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('refuses to listen on a port already taken', async () => {
    const { proxy } = await setUp();
    await expect(
      DelayProxy.start({ listenHost: host, listenPort: proxy.port, targetHost: host, targetPort: 1 }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
