import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_ENV, temporalConnectionOptions, tlsOptions } from '../../../src/cli/temporal-connection';
import type { TemporalConfig } from '../../../src/cli/config-schema';
import { ErrorCode, KvmCloneError } from '../../../src/errors';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-tls-'));
  await writeFile(path.join(dir, 'ca.pem'), 'CA');
  await writeFile(path.join(dir, 'client.pem'), 'CERT');
  await writeFile(path.join(dir, 'client.key'), 'KEY');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const temporal = (extra: Partial<TemporalConfig> = {}): TemporalConfig =>
  ({ namespace: 'default', taskQueue: 'kvm-clone', ...extra }) as TemporalConfig;

describe('Temporal connection options from the config', () => {
  it('passes no TLS or `tls: true` through, and reads the CA and the client pair for mTLS', async () => {
    expect(await tlsOptions(undefined)).toBeUndefined();
    expect(await tlsOptions(true)).toBe(true);
    const options = await tlsOptions({
      serverName: 'temporal.internal',
      caFile: path.join(dir, 'ca.pem'),
      certFile: path.join(dir, 'client.pem'),
      keyFile: path.join(dir, 'client.key'),
    });
    expect(options).toEqual({
      serverNameOverride: 'temporal.internal',
      serverRootCACertificate: Buffer.from('CA'),
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
    });
    // A certificate without its key is no client pair.
    expect(await tlsOptions({ certFile: path.join(dir, 'client.pem') })).toEqual({});
  });

  it('fails with 1001 naming the key and the file when a TLS file cannot be read', async () => {
    const missing = path.join(dir, 'missing.pem');
    const error = await tlsOptions({ caFile: missing }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KvmCloneError);
    expect((error as KvmCloneError).code).toBe(ErrorCode.CONFIGURATION_ERROR);
    expect((error as KvmCloneError).message).toContain(`temporal.tls.caFile ${missing} cannot be read`);
  });

  it("takes the environment's API key over the file's, and leaves out what is not set", async () => {
    expect(await temporalConnectionOptions(temporal(), 'localhost:7233', {})).toEqual({ address: 'localhost:7233' });
    expect(await temporalConnectionOptions(temporal({ apiKey: 'from-file', tls: true }), 'cloud:7233', {})).toEqual({
      address: 'cloud:7233',
      tls: true,
      apiKey: 'from-file',
    });
    expect(
      await temporalConnectionOptions(temporal({ apiKey: 'from-file' }), 'cloud:7233', { [API_KEY_ENV]: 'from-env' }),
    ).toEqual({ address: 'cloud:7233', apiKey: 'from-env' });
  });
});
