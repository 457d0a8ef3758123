/**
 * What the load scenario runs on: the production Temporal server (PostgreSQL, the shipped
 * config; test/helpers/temporal-server.ts), `kvm-clone worker` processes from dist/ as
 * users run them, and samplers for the workers' RSS and PostgreSQL's connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { KvmCloneClient } from '../../src/client';
import { bin, writeLabConfig } from '../../test/helpers/cli';
import { startProductionTemporal, type ProductionTemporal } from '../../test/helpers/temporal-server';
import { root, type Bench } from './context';

/** A `kvm-clone worker` process and its memory. */
export interface CliWorker {
  pid: number;
  /** The SDK's default identity, as ActivityTaskStarted events name the worker. */
  identity: string;
  /** RSS once it polled, bytes. */
  idleRssBytes: number;
  /** Peak RSS over its life so far (VmHWM), bytes. */
  peakRssBytes(): number;
  /** Its stderr: the SDK's log at info, each activity's start and end with its operation id. */
  logFile: string;
}

/** Client backends (what max_connections limits) and every row of pg_stat_activity, over a window. */
export interface ConnectionCounts {
  peakClients: number;
  peakTotal: number;
  /** Client backends per database at the sample with the most clients. */
  atPeak: { temporal: number; visibility: number };
  samples: number;
}

const STOP_GRACE_MS = 20_000;

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export class LoadCluster {
  private readonly workers: { child: ChildProcess; exited: Promise<void> }[] = [];

  private constructor(
    private readonly bench: Bench,
    readonly server: ProductionTemporal,
    private readonly connection: Connection,
    private readonly configDir: string,
  ) {}

  /** Starts PostgreSQL and the server; `bench.stop()` stops them if the scenario does not get to. */
  static async start(bench: Bench): Promise<{ cluster: LoadCluster; stop: () => Promise<void> }> {
    const logFile = path.join(root, '.cache/bench/logs', `temporal-server-${process.pid}.log`);
    await mkdir(path.dirname(logFile), { recursive: true });
    bench.log(`  starting the production Temporal server on PostgreSQL (log: ${path.relative(root, logFile)})…`);
    const server = await startProductionTemporal(logFile);
    const connection = await Connection.connect({ address: server.address });
    const configDir = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-bench-load-'));
    const cluster = new LoadCluster(bench, server, connection, configDir);
    const stop = bench.atStop(async () => {
      await cluster.stopWorkers();
      await connection.close().catch(() => undefined);
      await server.stop();
      await rm(configDir, { recursive: true, force: true });
    });
    return { cluster, stop };
  }

  /** A client of the server for a task queue of its own. */
  client(taskQueue: string): KvmCloneClient {
    return new KvmCloneClient(new Client({ connection: this.connection }), taskQueue);
  }

  /** Starts `count` CLI workers on `taskQueue` and resolves once each polls. */
  async startWorkers(taskQueue: string, count: number, maxActivities?: number): Promise<CliWorker[]> {
    const config = await writeLabConfig(this.bench.lab, path.join(this.configDir, `${taskQueue}.yaml`), {
      address: this.server.address,
      taskQueue,
    });
    const args = [
      ...['-c', config, '--log-level', 'info', 'worker'],
      ...(maxActivities ? ['--max-activities', String(maxActivities)] : []),
    ];
    return Promise.all(Array.from({ length: count }, () => this.startWorker(args)));
  }

  private async startWorker(args: string[]): Promise<CliWorker> {
    // node itself, so that the pid is the worker's and /proc shows its memory.
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.workers.push({ child, exited });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        stderr = `${stderr}${chunk.toString('utf8')}`.slice(-20_000);
        if (!stderr.includes('worker polling task queue')) return;
        child.stderr!.off('data', read);
        resolve();
      };
      child.stderr!.on('data', read);
      child.once('exit', (code) => reject(new Error(`kvm-clone worker exited (${code}) before polling: ${stderr}`)));
    });
    const pid = child.pid!;
    const logFile = path.join(root, '.cache/bench/logs', `load-worker-${pid}.log`);
    const log = createWriteStream(logFile);
    log.write(stderr);
    child.stderr!.pipe(log);
    return {
      pid,
      logFile,
      identity: `${pid}@${os.hostname()}`,
      idleRssBytes: statusField(pid, 'VmRSS'),
      peakRssBytes: () => statusField(pid, 'VmHWM'),
    };
  }

  /** SIGTERM every worker (running activities are cancelled), SIGKILL after a grace period. */
  async stopWorkers(): Promise<void> {
    await Promise.all(
      this.workers.splice(0).map(async ({ child, exited }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  /** PostgreSQL's max_connections. */
  async maxConnections(): Promise<number> {
    return Number(await this.server.postgres.query('show max_connections'));
  }

  /** Samples pg_stat_activity until the returned function is called, which gives the window's peaks. */
  countConnections(intervalMs = 250): () => Promise<ConnectionCounts> {
    const counts: ConnectionCounts = {
      peakClients: 0,
      peakTotal: 0,
      atPeak: { temporal: 0, visibility: 0 },
      samples: 0,
    };
    let running = true;
    // The sampler's own connection is left out.
    const sql = `select count(*) filter (where backend_type = 'client backend'), count(*),
      count(*) filter (where backend_type = 'client backend' and datname = 'temporal'),
      count(*) filter (where backend_type = 'client backend' and datname = 'temporal_visibility')
      from pg_stat_activity where pid <> pg_backend_pid()`;
    const loop = (async () => {
      while (running) {
        const row = await this.server.postgres.query(sql).catch(() => undefined);
        if (row) {
          const [clients = 0, total = 0, temporal = 0, visibility = 0] = row.split('|').map(Number);
          counts.samples++;
          counts.peakTotal = Math.max(counts.peakTotal, total);
          if (clients > counts.peakClients) {
            counts.peakClients = clients;
            counts.atPeak = { temporal, visibility };
          }
        }
        await sleep(intervalMs);
      }
    })();
    return async () => {
      running = false;
      await loop;
      return counts;
    };
  }
}

/** A task queue no other worker polls. */
export function loadTaskQueue(phase: string): string {
  return `bench-load-${phase}-${randomBytes(3).toString('hex')}`;
}
