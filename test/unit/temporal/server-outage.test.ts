import { ServiceError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { acrossServerOutages, isServerUnavailable } from '../../../src/temporal/server-outage';

/** What @grpc/grpc-js rejects a call with. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

/** What KvmCloneClient.result() throws when the SDK gave up on a server that does not answer. */
function unavailable(): KvmCloneError {
  const cause = new ServiceError('Failed to get Workflow execution history', {
    cause: grpcError(14, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7233'),
  });
  return new KvmCloneError(ErrorCode.GENERAL_ERROR, cause.message, {}, { cause });
}

describe('isServerUnavailable', () => {
  it('finds an UNAVAILABLE gRPC status down the cause chain', () => {
    expect(isServerUnavailable(unavailable())).toBe(true);
    expect(isServerUnavailable(grpcError(14, 'unavailable'))).toBe(true);
  });

  it('is false for what a server answered, and for errors of no call', () => {
    expect(isServerUnavailable(new ServiceError('x', { cause: grpcError(5, 'workflow not found') }))).toBe(false);
    expect(isServerUnavailable(new ServiceError('x', { cause: grpcError(3, 'invalid argument') }))).toBe(false);
    expect(isServerUnavailable(new Error('boom'))).toBe(false);
    expect(isServerUnavailable(undefined)).toBe(false);
  });
});

describe('acrossServerOutages', () => {
  it('calls again while the server does not answer, and returns what the call returns once it does', async () => {
    let calls = 0;
    const result = await acrossServerOutages(
      async () => {
        calls += 1;
        if (calls < 3) throw unavailable();
        return 'done';
      },
      { intervalMs: 1 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  it('throws any other error at once', async () => {
    let calls = 0;
    const failed = new KvmCloneError(ErrorCode.CLONE_ERROR, 'the clone failed');
    await expect(
      acrossServerOutages(
        async () => {
          calls += 1;
          throw failed;
        },
        { intervalMs: 1 },
      ),
    ).rejects.toBe(failed);
    expect(calls).toBe(1);
  });

  it('throws the outage error once the server stayed away longer than the patience', async () => {
    let calls = 0;
    const error = unavailable();
    await expect(
      acrossServerOutages(
        async () => {
          calls += 1;
          throw error;
        },
        { patienceMs: 20, intervalMs: 5 },
      ),
    ).rejects.toBe(error);
    expect(calls).toBeGreaterThan(1);
  });
});
