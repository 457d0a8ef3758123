import { readFile } from 'node:fs/promises';
import type { TLSConfig } from '@temporalio/client';
import { ErrorCode, KvmCloneError } from '../errors';
import type { TemporalConfig } from './config-schema';

/** Lets a config leave the API key out of the file. */
export const API_KEY_ENV = 'KVM_CLONE_TEMPORAL_API_KEY';

/** What both Connection (client) and NativeConnection (worker) take to reach a cluster. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

async function readTlsFile(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `temporal.tls.${what} ${file} cannot be read: ${(error as Error).message}`,
      { path: file },
    );
  }
}

/** The configured TLS as the SDK takes it, with the certificate files read. */
export async function tlsOptions(tls: TemporalConfig['tls']): Promise<TLSConfig | boolean | undefined> {
  if (tls === undefined || typeof tls === 'boolean') return tls;
  const options: TLSConfig = {};
  if (tls.serverName) options.serverNameOverride = tls.serverName;
  if (tls.caFile) options.serverRootCACertificate = await readTlsFile(tls.caFile, 'caFile');
  if (tls.certFile && tls.keyFile)
    options.clientCertPair = {
      crt: await readTlsFile(tls.certFile, 'certFile'),
      key: await readTlsFile(tls.keyFile, 'keyFile'),
    };
  return options;
}

/** Connection options for a configured cluster; the environment's API key wins over the file's. */
export async function temporalConnectionOptions(
  temporal: TemporalConfig,
  address: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TemporalConnectionOptions> {
  const tls = await tlsOptions(temporal.tls);
  const apiKey = env[API_KEY_ENV] || temporal.apiKey;
  return { address, ...(tls !== undefined ? { tls } : {}), ...(apiKey ? { apiKey } : {}) };
}
