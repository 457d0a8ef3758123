import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { findTemporalBinary } from '../../src/temporal/binary';
import { isServerHealthy } from '../../src/temporal/dev-server';
import { isPortFree } from '../../src/temporal/free-port';
import { startPostgresCluster, type PostgresCluster } from './postgres-cluster';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

/** What docker-compose.yml mounts into the temporalio/server image and starts: the config template and its start script. */
export const TEMPORAL_DEPLOY_DIR = 'deploy/temporal';
/** Where scripts/install-temporal-server caches the server, the SQL tool and the schema files. */
const SERVER_CACHE = path.join(root, '.cache/temporal-server');
const NAMESPACE = 'default';
const START_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 20_000;

export interface ProductionTemporal {
  /** host:port of the frontend, for Connection.connect / NativeConnection.connect. */
  address: string;
  postgres: PostgresCluster;
  logFile: string;
  /** The server process alone: PostgreSQL and the data stay (a restart test starts it again). */
  stopServer(): Promise<void>;
  /** Starts the server again on the same ports and database, and waits until it serves. */
  startServer(): Promise<void>;
  /** The server, then PostgreSQL and its directory. */
  stop(): Promise<void>;
}

/**
 * The production setup on this machine: a local PostgreSQL cluster, the schema created by
 * the compose stack's own script (deploy/compose/scripts/setup-postgres.sh) with the SQL
 * tool, the Temporal server started by deploy/temporal/start.sh with the config template
 * the compose stack mounts, and the namespace created by the compose stack's
 * create-namespace.sh. Resolves once the namespace takes workflow calls.
 */
export async function startProductionTemporal(logFile: string): Promise<ProductionTemporal> {
  const binDir = path.join(SERVER_CACHE, 'bin');
  await access(path.join(binDir, 'temporal-server')).catch(() => {
    throw new Error(`no Temporal server in ${binDir}: run scripts/setup (scripts/install-temporal-server)`);
  });
  const cli = await findTemporalBinary();
  if (!cli.path) throw new Error('no Temporal CLI: run scripts/setup');
  await mkdir(path.dirname(logFile), { recursive: true });

  const postgres = await startPostgresCluster();
  let server: ServerProcess | undefined;
  try {
    const database = {
      DB: 'postgres12',
      POSTGRES_SEEDS: postgres.host,
      DB_PORT: String(postgres.port),
      POSTGRES_USER: postgres.user,
    };
    const pathWith = (...dirs: string[]) => [...dirs, process.env.PATH ?? '/usr/bin:/bin'].join(':');
    await run('sh', [path.join(root, 'deploy/compose/scripts/setup-postgres.sh')], {
      env: {
        ...process.env,
        ...database,
        SQL_PASSWORD: postgres.password,
        TEMPORAL_SCHEMA_DIR: path.join(SERVER_CACHE, 'schema'),
        PATH: pathWith(binDir),
      },
    });

    const ports = await serverPorts();
    const environment = {
      ...process.env,
      ...database,
      POSTGRES_PWD: postgres.password,
      BIND_ON_IP: '127.0.0.1',
      LOG_LEVEL: process.env.KVM_CLONE_TEMPORAL_LOG_LEVEL ?? 'warn',
      ...ports,
      PATH: pathWith(binDir),
    };
    const address = `127.0.0.1:${ports.FRONTEND_GRPC_PORT}`;
    server = await ServerProcess.start(environment, address, logFile);
    await run('sh', [path.join(root, 'deploy/compose/scripts/create-namespace.sh')], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: address,
        DEFAULT_NAMESPACE: NAMESPACE,
        PATH: pathWith(path.dirname(cli.path)),
      },
    });
    await waitForNamespace(address, NAMESPACE);

    const running = server;
    return {
      address,
      postgres,
      logFile,
      stopServer: () => running.stop(),
      startServer: () => running.restart(),
      async stop() {
        await running.stop();
        await postgres.stop();
      },
    };
  } catch (error) {
    await server?.stop();
    await postgres.stop();
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw new Error(
      `the production Temporal server did not start: ${error instanceof Error ? error.message : String(error)}` +
        (log ? `\n--- ${logFile} (last lines) ---\n${log.slice(-4000)}` : ''),
      { cause: error },
    );
  }
}

/**
 * Every port the four services bind: gRPC and membership for each, and the frontend's HTTP API.
 * Below 32768: the server records its members' ports in a PostgreSQL smallint
 * (cluster_membership), and refuses to start on a port from the kernel's ephemeral range.
 */
async function serverPorts(): Promise<Record<string, string>> {
  const names = [
    'FRONTEND_GRPC_PORT',
    'FRONTEND_HTTP_PORT',
    'FRONTEND_MEMBERSHIP_PORT',
    'HISTORY_GRPC_PORT',
    'HISTORY_MEMBERSHIP_PORT',
    'MATCHING_GRPC_PORT',
    'MATCHING_MEMBERSHIP_PORT',
    'WORKER_GRPC_PORT',
    'WORKER_MEMBERSHIP_PORT',
  ];
  const ports = new Set<number>();
  while (ports.size < names.length) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!ports.has(port) && (await isPortFree(port))) ports.add(port);
  }
  const values = [...ports];
  return Object.fromEntries(names.map((name, index) => [name, String(values[index])]));
}

/**
 * Namespaces reach the services' caches some seconds after they are created: a workflow
 * started before that fails with "namespace not found". The task queue call goes through
 * the frontend's cache, so it answers once clients can use the namespace.
 */
async function waitForNamespace(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await connection.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name: 'kvm-clone-readiness-probe' },
        });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(500);
      }
    }
  } finally {
    await connection.close();
  }
}

/** The server started by deploy/temporal/start.sh, its output appended to a log file. */
class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  private constructor(
    private readonly environment: NodeJS.ProcessEnv,
    private readonly address: string,
    private readonly logFile: string,
  ) {}

  static async start(environment: NodeJS.ProcessEnv, address: string, logFile: string): Promise<ServerProcess> {
    const server = new ServerProcess(environment, address, logFile);
    await server.restart();
    return server;
  }

  async restart(): Promise<void> {
    if (this.child) throw new Error('the Temporal server is already running');
    const output = openSync(this.logFile, 'a');
    // sh execs the server, so the pid and the signals are the server's.
    const child = spawn('sh', [path.join(root, TEMPORAL_DEPLOY_DIR, 'start.sh')], {
      env: this.environment,
      stdio: ['ignore', output, output],
    });
    closeSync(output);
    this.child = child;
    let exitedWith: string | undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitedWith = signal ?? `exit code ${code}`;
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('error', (error) => {
        exitedWith = error.message;
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    process.once('exit', this.killOnExit);

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await isServerHealthy(this.address))) {
      if (exitedWith !== undefined) throw new Error(`the server process ended (${exitedWith})`);
      if (Date.now() > deadline) throw new Error(`not serving at ${this.address} after ${START_TIMEOUT_MS} ms`);
      await sleep(250);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    process.off('exit', this.killOnExit);
    if (!child) return;
    child.kill('SIGTERM');
    const graceOver = new AbortController();
    const inTime = await Promise.race([
      this.exited.then(() => true),
      sleep(STOP_GRACE_MS, false, { signal: graceOver.signal }).catch(() => true),
    ]);
    graceOver.abort();
    if (!inTime) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }
}
