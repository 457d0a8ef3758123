import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { findTemporalBinary } from '../temporal/binary';
import { isServerHealthy, startDevServer } from '../temporal/dev-server';
import { ErrorCode, KvmCloneError } from '../errors';

export const EMBEDDED_ADDRESS = '127.0.0.1:7233';
export const EMBEDDED_UI_URL = 'http://127.0.0.1:8233';

/**
 * The local dev server that the CLI uses when no Temporal address is configured. It
 * keeps its state in `stateDir` and keeps running after the command, for the next one.
 */
export async function ensureEmbeddedTemporal(stateDir: string, temporalBinary?: string): Promise<{ address: string; uiUrl: string; started: boolean }> {
  if (await isServerHealthy(EMBEDDED_ADDRESS)) return { address: EMBEDDED_ADDRESS, uiUrl: EMBEDDED_UI_URL, started: false };
  const binary = await findTemporalBinary(temporalBinary ? { explicitPath: temporalBinary } : {});
  if (!binary.path) {
    throw new KvmCloneError(ErrorCode.CONFIGURATION_ERROR, 'no Temporal CLI found: set KVM_CLONE_TEMPORAL_BIN, put `temporal` on PATH, or run scripts/install-temporal');
  }
  await mkdir(stateDir, { recursive: true });
  await startDevServer({
    binary: binary.path,
    port: 7233,
    uiPort: 8233,
    dbFilename: path.join(stateDir, 'temporal.db'),
    detached: true,
    logFile: path.join(stateDir, 'temporal.log'),
  });
  return { address: EMBEDDED_ADDRESS, uiUrl: EMBEDDED_UI_URL, started: true };
}
