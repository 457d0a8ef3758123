import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { ErrorCode, KvmCloneError } from '../errors';
import { findTemporalBinary } from './binary';
import { isPortFree } from './free-port';

export interface DevServerOptions {
  /** Temporal CLI to run; found with findTemporalBinary() when absent. */
  binary?: string;
  /** Address the frontend binds to (default 127.0.0.1). */
  ip?: string;
  /** Frontend gRPC port (default 7233). */
  port?: number;
  /** Web UI port (default port + 1000); ignored when headless. */
  uiPort?: number;
  /** SQLite file that keeps workflow history across restarts; in memory when absent. */
  dbFilename?: string;
  /** Namespace that must exist before the server counts as ready (default 'default'). */
  namespace?: string;
  /** No Web UI. */
  headless?: boolean;
  /** debug | info | warn | error | never (default error). */
  logLevel?: string;
  /** Leave the server running after this process exits; output then goes to logFile. */
  detached?: boolean;
  /** Where server output goes; detached servers default to a file in the temp directory. */
  logFile?: string;
  /** How long to wait for the server to serve (default 30s). */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 10s). */
  stopGraceMs?: number;
}

export interface DevServerHandle {
  /** host:port for Connection.connect / NativeConnection.connect. */
  address: string;
  namespace: string;
  uiUrl?: string;
  pid: number;
  logFile?: string;
  stop(): Promise<void>;
}

const DEFAULT_PORT = 7233;
const UI_PORT_OFFSET = 1000;
const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_GRACE_MS = 10_000;
const POLL_INTERVAL_MS = 200;
const LOG_TAIL_BYTES = 4_096;
// The service name `temporal operator cluster health` asks about; the frontend reports
// SERVING for it only once it accepts workflow calls.
const WORKFLOW_SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';
const SERVING = 1; // grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING

/** Starts `temporal server start-dev` and resolves once it serves the namespace. */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServerHandle> {
  const settings = await resolveSettings(options);
  await requireFreePorts(settings);

  const output = openOutput(settings);
  const child = spawn(settings.binary, devServerArgs(settings), {
    detached: settings.detached,
    stdio: ['ignore', output.stdio, output.stdio],
  });
  output.afterSpawn(child);
  const exited = exitOf(child);
  const server = new RunningServer(child, exited, settings.stopGraceMs);

  try {
    await waitUntilReady(settings, exited);
  } catch (error) {
    await server.stop();
    const logTail = await output.tail();
    const message = error instanceof Error ? error.message : String(error);
    throw new KvmCloneError(
      ErrorCode.GENERAL_ERROR,
      `Temporal dev server at ${settings.address} did not start: ${message}` +
        (logTail ? `\n--- server output (last lines) ---\n${logTail}` : ''),
      { address: settings.address, binary: settings.binary, logFile: settings.logFile, logTail },
      { cause: error },
    );
  }

  if (settings.detached) {
    child.unref();
  } else {
    server.stopWhenThisProcessExits();
  }
  return {
    address: settings.address,
    namespace: settings.namespace,
    uiUrl: settings.uiUrl,
    logFile: settings.logFile,
    pid: server.pid,
    stop: () => server.stop(),
  };
}

/** Whether the frontend at host:port answers the gRPC health check with SERVING. */
export async function isServerHealthy(address: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    return await withConnection(address, timeoutMs, async (connection, deadline) => {
      const response = await connection.withDeadline(deadline, () =>
        connection.healthService.check({ service: WORKFLOW_SERVICE }),
      );
      return response.status === SERVING;
    });
  } catch {
    return false;
  }
}

/**
 * Stops a server by pid, e.g. a detached one started by an earlier run. The caller vouches
 * that the pid still belongs to the server: pids get reused.
 */
export async function stopServerProcess(pid: number, graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
  if (!signal(pid, 'SIGTERM')) {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!signal(pid, 0)) {
      return;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  signal(pid, 'SIGKILL');
  while (signal(pid, 0)) {
    await sleep(POLL_INTERVAL_MS);
  }
}

interface DevServerSettings {
  binary: string;
  ip: string;
  port: number;
  uiPort: number | undefined;
  dbFilename: string | undefined;
  namespace: string;
  logLevel: string;
  detached: boolean;
  logFile: string | undefined;
  startTimeoutMs: number;
  stopGraceMs: number;
  address: string;
  uiUrl: string | undefined;
}

/** Command-line arguments for `temporal` that start the server the settings describe. */
export function devServerArgs(
  settings: Pick<DevServerSettings, 'ip' | 'port' | 'uiPort' | 'dbFilename' | 'namespace' | 'logLevel'>,
): string[] {
  const args = ['server', 'start-dev', '--ip', settings.ip, '--port', String(settings.port)];
  args.push(...(settings.uiPort === undefined ? ['--headless'] : ['--ui-port', String(settings.uiPort)]));
  if (settings.dbFilename !== undefined) {
    args.push('--db-filename', settings.dbFilename);
  }
  // The CLI always creates "default"; naming it again is harmless but noisy.
  if (settings.namespace !== 'default') {
    args.push('--namespace', settings.namespace);
  }
  args.push('--log-level', settings.logLevel);
  return args;
}

async function resolveSettings(options: DevServerOptions): Promise<DevServerSettings> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_PORT;
  const uiPort = options.headless ? undefined : (options.uiPort ?? port + UI_PORT_OFFSET);
  const detached = options.detached ?? false;
  const clientHost = hostForClients(ip);
  return {
    binary: options.binary ?? (await binaryFromEnvironment()),
    ip,
    port,
    uiPort,
    dbFilename: options.dbFilename,
    namespace: options.namespace ?? 'default',
    logLevel: options.logLevel ?? 'error',
    detached,
    // A detached server outlives our pipes, so its output needs somewhere to go.
    logFile: options.logFile ?? (detached ? path.join(os.tmpdir(), `kvm-clone-temporal-${port}.log`) : undefined),
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    stopGraceMs: options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
    address: `${clientHost}:${port}`,
    uiUrl: uiPort === undefined ? undefined : `http://${clientHost}:${uiPort}`,
  };
}

async function binaryFromEnvironment(): Promise<string> {
  const binary = await findTemporalBinary();
  if (binary.path === undefined) {
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      'No Temporal CLI found (checked KVM_CLONE_TEMPORAL_BIN, PATH and .cache/temporal/bin); run scripts/install-temporal',
    );
  }
  return binary.path;
}

// Another server already on the port would answer our health checks and pass for ours.
async function requireFreePorts(settings: DevServerSettings): Promise<void> {
  const ports = settings.uiPort === undefined ? [settings.port] : [settings.port, settings.uiPort];
  for (const port of ports) {
    if (!(await isPortFree(port, settings.ip))) {
      throw new KvmCloneError(
        ErrorCode.CONFIGURATION_ERROR,
        `Cannot start the Temporal dev server: ${settings.ip}:${port} is already in use`,
        { ip: settings.ip, port },
      );
    }
  }
}

async function waitUntilReady(settings: DevServerSettings, exited: Promise<ExitStatus>): Promise<void> {
  let exitStatus: ExitStatus | undefined;
  void exited.then((status) => (exitStatus = status));
  const deadline = Date.now() + settings.startTimeoutMs;
  while (Date.now() < deadline) {
    if (exitStatus !== undefined) {
      throw new Error(`the server process ended (${describeExit(exitStatus)})`);
    }
    if (await isNamespaceReady(settings.address, settings.namespace)) {
      return;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`not serving after ${settings.startTimeoutMs} ms`);
}

// SERVING comes slightly before namespaces are usable; callers want to start workflows at once.
async function isNamespaceReady(address: string, namespace: string): Promise<boolean> {
  if (!(await isServerHealthy(address))) {
    return false;
  }
  try {
    return await withConnection(address, 2_000, async (connection, deadline) => {
      await connection.withDeadline(deadline, () => connection.workflowService.describeNamespace({ namespace }));
      return true;
    });
  } catch {
    return false;
  }
}

async function withConnection<T>(
  address: string,
  timeoutMs: number,
  use: (connection: Connection, deadline: number) => Promise<T>,
): Promise<T> {
  // No interceptors: the default one retries UNAVAILABLE with backoff, and a probe should
  // report "not yet" at once rather than wait out its own deadline.
  const connection = Connection.lazy({ address, connectTimeout: timeoutMs, interceptors: [] });
  try {
    return await use(connection, Date.now() + timeoutMs);
  } finally {
    await connection.close();
  }
}

type ExitStatus = { code: number | null; signal: NodeJS.Signals | null } | { error: Error };

function exitOf(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // 'error' without 'exit' means the process never started (e.g. ENOENT, EACCES).
    child.once('error', (error) => resolve({ error }));
  });
}

function describeExit(status: ExitStatus): string {
  if ('error' in status) {
    return status.error.message;
  }
  return status.signal !== null ? `signal ${status.signal}` : `exit code ${status.code}`;
}

class RunningServer {
  private stopping: Promise<void> | undefined;
  private readonly killOnExit = (): void => {
    this.child.kill('SIGKILL');
  };

  constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<ExitStatus>,
    private readonly graceMs: number,
  ) {}

  get pid(): number {
    // Only read after the server answered health checks, so the process did start.
    return this.child.pid ?? -1;
  }

  /** An attached server is part of this process: a crashed test run must not leak it. */
  stopWhenThisProcessExits(): void {
    process.once('exit', this.killOnExit);
  }

  stop(): Promise<void> {
    this.stopping ??= this.terminate();
    return this.stopping;
  }

  private async terminate(): Promise<void> {
    process.off('exit', this.killOnExit);
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) {
      return;
    }
    this.child.kill('SIGTERM');
    // The grace timer stays referenced so Node keeps running until the server is gone,
    // and is cancelled once it is, so Node does not linger for the rest of the grace.
    const graceOver = new AbortController();
    const exitedInTime = await Promise.race([
      this.exited.then(() => true),
      sleep(this.graceMs, false, { signal: graceOver.signal }).catch(() => true),
    ]);
    graceOver.abort();
    if (!exitedInTime) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

interface ServerOutput {
  stdio: 'pipe' | number;
  afterSpawn(child: ChildProcess): void;
  tail(): Promise<string>;
}

function openOutput(settings: DevServerSettings): ServerOutput {
  return settings.logFile === undefined ? memoryOutput() : fileOutput(settings.logFile);
}

function fileOutput(logFile: string): ServerOutput {
  const fd = openSync(logFile, 'a');
  return {
    stdio: fd,
    // The child holds its own copy of the descriptor.
    afterSpawn: () => closeSync(fd),
    tail: () => readFileTail(logFile, LOG_TAIL_BYTES),
  };
}

function memoryOutput(): ServerOutput {
  let kept = '';
  // Always drained: a server blocked on a full pipe would look like a hung start.
  const keep = (chunk: Buffer): void => {
    kept = (kept + chunk.toString('utf8')).slice(-LOG_TAIL_BYTES);
  };
  return {
    stdio: 'pipe',
    afterSpawn: (child) => {
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
    },
    tail: async () => kept.trim(),
  };
}

async function readFileTail(file: string, bytes: number): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, bytes);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString('utf8').trim();
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

/** Where clients connect for a bind address: a wildcard bind is reachable on loopback. */
function hostForClients(ip: string): string {
  if (ip === '0.0.0.0' || ip === '') {
    return '127.0.0.1';
  }
  if (ip === '::') {
    return '[::1]';
  }
  return ip.includes(':') ? `[${ip}]` : ip;
}

function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}
