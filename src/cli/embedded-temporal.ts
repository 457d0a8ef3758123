import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findTemporalBinary } from '../temporal/binary';
import { isServerHealthy, startDevServer, type DevServerHandle } from '../temporal/dev-server';
import { ErrorCode, KvmCloneError } from '../errors';

/** Override the embedded server's ports, e.g. to run a second one beside the default. */
export const EMBEDDED_PORT_ENV = 'KVM_CLONE_EMBEDDED_PORT';
export const EMBEDDED_UI_PORT_ENV = 'KVM_CLONE_EMBEDDED_UI_PORT';

export interface EmbeddedServerSettings {
  port: number;
  uiPort: number;
  address: string;
  uiUrl: string;
  stateDir: string;
  dbFile: string;
  logFile: string;
  /** The pid of a server this tool started detached, so it can be found and stopped later. */
  pidFile: string;
}

function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new KvmCloneError(ErrorCode.INVALID_PORT, `${name}=${text} is not a TCP port`);
  return port;
}

/** Ports 7233 and 8233 (as `temporal server start-dev`) unless the environment says otherwise. */
export function embeddedServerSettings(stateDir: string, env: NodeJS.ProcessEnv = process.env): EmbeddedServerSettings {
  const port = portFromEnv(env, EMBEDDED_PORT_ENV, 7233);
  const uiPort = portFromEnv(env, EMBEDDED_UI_PORT_ENV, port + 1000);
  return {
    port,
    uiPort,
    address: `127.0.0.1:${port}`,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    stateDir,
    dbFile: path.join(stateDir, 'temporal.db'),
    logFile: path.join(stateDir, 'temporal.log'),
    pidFile: path.join(stateDir, 'temporal.pid'),
  };
}

async function requireTemporalBinary(temporalBinary?: string): Promise<string> {
  const binary = await findTemporalBinary(temporalBinary ? { explicitPath: temporalBinary } : {});
  if (!binary.path) {
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      'no Temporal CLI found: set KVM_CLONE_TEMPORAL_BIN, put `temporal` on PATH, or run scripts/install-temporal',
    );
  }
  return binary.path;
}

/**
 * The local dev server that the CLI uses when no Temporal address is configured. It
 * keeps its state in the state dir and keeps running after the command, for the next one.
 */
export async function ensureEmbeddedTemporal(
  settings: EmbeddedServerSettings,
  temporalBinary?: string,
): Promise<{ address: string; uiUrl: string; started: boolean }> {
  if (await isServerHealthy(settings.address))
    return { address: settings.address, uiUrl: settings.uiUrl, started: false };
  const binary = await requireTemporalBinary(temporalBinary);
  await mkdir(settings.stateDir, { recursive: true });
  const server = await startDevServer({
    binary,
    port: settings.port,
    uiPort: settings.uiPort,
    dbFilename: settings.dbFile,
    detached: true,
    logFile: settings.logFile,
  });
  await writeFile(settings.pidFile, `${server.pid}\n`);
  return { address: settings.address, uiUrl: settings.uiUrl, started: true };
}

/** The same server in the foreground, for `kvm-clone server`: it stops with this process. */
export async function runEmbeddedTemporal(
  settings: EmbeddedServerSettings,
  temporalBinary?: string,
): Promise<DevServerHandle> {
  if (await isServerHealthy(settings.address)) {
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `a Temporal server already runs at ${settings.address} (Web UI ${settings.uiUrl}); commands use it as it is`,
      {
        address: settings.address,
      },
    );
  }
  const binary = await requireTemporalBinary(temporalBinary);
  await mkdir(settings.stateDir, { recursive: true });
  return startDevServer({
    binary,
    port: settings.port,
    uiPort: settings.uiPort,
    dbFilename: settings.dbFile,
    logFile: settings.logFile,
  });
}
