/**
 * A TCP proxy that delays every chunk, in each direction, by a fixed one-way delay (RTT/2), in order: the bench's
 * WAN emulation in user space (this kernel has no netem).
 *
 * What it emulates, and what not: each side's TCP connection ends at the proxy, which acknowledges at once, so TCP's
 * congestion control never sees the delay. Application data does: an SSH channel window (or any request/response
 * protocol) waits a full RTT for its answer, as over a real WAN. No loss, no jitter, no rate cap.
 *
 * Memory stays bounded: a direction that queues more than `maxQueuedBytes` pauses its reading socket until the queue
 * has drained to half of it, and stops flushing while the writing socket is above its high-water mark. The bound
 * must be well above the bandwidth-delay product (1 Gbit/s × 50 ms ≈ 6 MB), or it, not the delay, caps throughput
 * at bound / RTT.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';

export interface DelayProxyOptions {
  /** Address to listen on (a lab address, e.g. 127.0.0.2). */
  listenHost: string;
  /** 0 (the default): a free port. */
  listenPort?: number;
  targetHost: string;
  targetPort: number;
  /** Delay of each direction in milliseconds: half the round trip added. Changeable later with `setDelay`. */
  delayMs?: number;
  /** Bytes one direction may queue before its reading side is paused (default 64 MiB). */
  maxQueuedBytes?: number;
}

export type Direction = 'toTarget' | 'toClient';

export interface DelayProxyStats {
  connections: number;
  /** Bytes written on, per direction. */
  forwarded: Record<Direction, number>;
  /** The largest queue of one direction of one connection, in bytes. */
  peakQueuedBytes: number;
  /** How many times a reading socket was paused because its queue was full. */
  pauses: number;
}

interface Entry {
  due: number;
  /** null: the reading side ended; end the writing side. */
  chunk: Buffer | null;
}

const now = () => performance.now();

/** One direction of one connection: what `from` sends reaches `to` `delay()` ms later, in order. */
class DelayedPipe {
  private readonly queue: Entry[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingForDrain = false;
  private paused = false;
  private closed = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly direction: Direction,
    private readonly proxy: DelayProxy,
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
    from.on('end', () => this.push(null));
    to.on('drain', () => {
      this.waitingForDrain = false;
      this.flush();
    });
  }

  /** Drops what is queued: the writing side is gone. */
  discard(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private push(chunk: Buffer | null): void {
    if (this.closed) return;
    this.queue.push({ due: now() + this.proxy.delayMs, chunk });
    if (chunk) {
      this.queuedBytes += chunk.length;
      this.proxy.noteQueued(this.direction, chunk.length, this.queuedBytes);
      if (!this.paused && this.queuedBytes > this.proxy.maxQueuedBytes) {
        this.paused = true;
        this.proxy.stats.pauses++;
        this.from.pause();
      }
    }
    // With a timer pending, an earlier chunk is still waiting: this one is due no sooner.
    if (this.timer === undefined) this.flush();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (!this.closed && !this.waitingForDrain && this.queue.length > 0) {
      const head = this.queue[0]!;
      const wait = head.due - now();
      if (wait > 0) {
        this.timer = setTimeout(() => this.flush(), wait);
        return;
      }
      this.queue.shift();
      if (head.chunk === null) {
        this.to.end();
        continue;
      }
      this.queuedBytes -= head.chunk.length;
      this.proxy.stats.forwarded[this.direction] += head.chunk.length;
      if (!this.to.write(head.chunk)) this.waitingForDrain = true;
      if (this.paused && this.queuedBytes <= this.proxy.maxQueuedBytes / 2) {
        this.paused = false;
        this.from.resume();
      }
    }
  }
}

/**
 * The proxy: `start()` listens, every accepted connection is joined to a new connection to the target through two
 * delayed pipes. Emits `queued` (direction, bytes) when a chunk enters a queue, for tests.
 */
export class DelayProxy extends EventEmitter {
  delayMs: number;
  readonly maxQueuedBytes: number;
  readonly stats: DelayProxyStats = {
    connections: 0,
    forwarded: { toTarget: 0, toClient: 0 },
    peakQueuedBytes: 0,
    pauses: 0,
  };
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;
  private listenPort: number | undefined;

  private constructor(private readonly options: DelayProxyOptions) {
    super();
    this.delayMs = options.delayMs ?? 0;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.server = net.createServer({ allowHalfOpen: true }, (client) => this.join(client));
  }

  static async start(options: DelayProxyOptions): Promise<DelayProxy> {
    const proxy = new DelayProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(options.listenPort ?? 0, options.listenHost, () => {
        proxy.server.off('error', reject);
        void proxy.port;
        resolve();
      });
    });
    return proxy;
  }

  get host(): string {
    return this.options.listenHost;
  }

  /** The port it listens on (still known after stop()). */
  get port(): number {
    this.listenPort ??= (this.server.address() as net.AddressInfo).port;
    return this.listenPort;
  }

  /** Sets the one-way delay (RTT/2) of chunks read from now on, on open connections too. */
  setDelay(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new Error(`not a delay: ${ms}`);
    this.delayMs = ms;
  }

  /** @internal */
  noteQueued(direction: Direction, bytes: number, queuedBytes: number): void {
    this.stats.peakQueuedBytes = Math.max(this.stats.peakQueuedBytes, queuedBytes);
    this.emit('queued', direction, bytes);
  }

  /** Closes the listening socket and every connection, open or half-closed. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private join(client: net.Socket): void {
    this.stats.connections++;
    const target = net.connect({ host: this.options.targetHost, port: this.options.targetPort, allowHalfOpen: true });
    this.track(client);
    this.track(target);
    const up = new DelayedPipe(client, target, 'toTarget', this);
    const down = new DelayedPipe(target, client, 'toClient', this);
    const ended = new Set<net.Socket>();
    client.once('end', () => ended.add(client));
    target.once('end', () => ended.add(target));
    const onClose = (socket: net.Socket, other: net.Socket, towards: DelayedPipe) => {
      // Nothing can be written on a closed socket any more.
      towards.discard();
      // Closed without a clean end (reset, error, destroyed): so is the other side. After a clean end, the other
      // side is ended once the queue towards it has drained.
      if (!ended.has(socket)) other.destroy();
    };
    client.once('close', () => onClose(client, target, down));
    target.once('close', () => onClose(target, client, up));
    // Errors (a refused target, a reset) close the socket; 'close' then does the rest.
    client.on('error', () => undefined);
    target.on('error', () => undefined);
  }
}
