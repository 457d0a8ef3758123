/**
 * What cloneVM and syncVM tell their webhooks (the `notify` activity) on each outcome:
 * success, failure, timeout and cancellation (the last in the failure files), and that a
 * notification never changes how the operation ends.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors';
import { activityFailure, untilCancelled } from '../helpers/stub-activities';
import { useStubWorker } from '../helpers/stub-worker';
import { DESTINATION, MISMATCH, SOURCE, VM, healthyHosts } from './stub-vm';

const env = useStubWorker(healthyHosts);
const WEBHOOK = { url: 'https://hooks.example.com/kvm-clone' };
const clone = { source: SOURCE, destination: DESTINATION, vmName: VM, notify: { webhooks: [WEBHOOK] } };
const sync = { source: SOURCE, destination: DESTINATION, vmName: VM, notify: { webhooks: [WEBHOOK] } };
const allEvents = { ...WEBHOOK, events: ['success', 'failure', 'cancelled'], format: 'json' };

describe.concurrent('notifications', () => {
  it('tells the webhooks of a clone that succeeded, once it is done, with the result', async () => {
    const run = await env().start('cloneVM', clone);
    const result = await run.result();

    expect(run.activities.names().slice(-2)).toEqual(['releaseDestinationLock', 'notify']);
    const { webhook, document } = run.activities.inputOf('notify');
    expect(webhook).toEqual(allEvents);
    expect(document).toMatchObject({
      type: 'kvm-clone.notification',
      event: 'success',
      kind: 'clone',
      operationId: run.handle.workflowId,
      vmName: VM,
      targetName: 'web01_clone',
      sourceHost: SOURCE,
      destinationHost: DESTINATION,
      result: { success: true, newName: 'web01_clone', bytesTransferred: result.bytesTransferred },
    });
    expect(document.error).toBeUndefined();
    expect(result.warnings).toEqual([]);
  });

  it('tells the webhooks of a sync that succeeded', async () => {
    const run = await env().start('syncVM', sync);
    await run.result();

    expect(run.activities.inputOf('notify').document).toMatchObject({
      event: 'success',
      kind: 'sync',
      targetName: VM,
      result: { success: true, targetName: VM },
    });
  });

  it('tells them of a failure after the cleanup, and fails as it would have without them', async () => {
    const run = await env().start('cloneVM', clone, { verifyFile: () => MISMATCH });
    const failure = await run.failure();

    expect(run.activities.names().slice(-3)).toEqual(['removeClone', 'releaseDestinationLock', 'notify']);
    expect(run.activities.inputOf('notify').document).toMatchObject({
      event: 'failure',
      error: { code: ErrorCode.TRANSFER_ERROR, codeName: 'TRANSFER_ERROR', message: failure.message },
    });
    expect(failure).toMatchObject({ type: 'TRANSFER_ERROR' });
  });

  it('tells them of a sync that failed, and that its target stays incomplete', async () => {
    const run = await env().start('syncVM', sync, { verifyFile: () => MISMATCH });
    const failure = await run.failure();

    expect(run.activities.inputOf('notify').document).toMatchObject({
      event: 'failure',
      kind: 'sync',
      error: { code: ErrorCode.TRANSFER_ERROR, message: failure.message },
    });
    expect(failure.message).toContain("'web01' stays marked incomplete until a sync finishes");
  });

  it('tells them of a timeout as a failure with OPERATION_TIMEOUT', async () => {
    const run = await env().start('cloneVM', { ...clone, timeout: 2 }, { transferRange: untilCancelled });
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'OPERATION_TIMEOUT' });
    expect(run.activities.inputOf('notify').document).toMatchObject({
      event: 'failure',
      error: { code: ErrorCode.OPERATION_TIMEOUT, codeName: 'OPERATION_TIMEOUT', message: failure.message },
    });
  });

  it('tells them of an input refused by validation', async () => {
    const run = await env().start('cloneVM', { ...clone, parallel: 0 });
    const failure = await run.failure();

    expect(run.activities.names()).toEqual(['notify']);
    expect(run.activities.inputOf('notify').document).toMatchObject({
      event: 'failure',
      error: { code: ErrorCode.VALIDATION_ERROR, message: failure.message },
    });
  });

  it('calls only the webhooks that want the event; a named one decides on the worker', async () => {
    const failuresOnly = { url: 'https://hooks.example.com/failures', events: ['failure' as const] };
    const run = await env().start('cloneVM', { ...clone, notify: { webhooks: [failuresOnly, { name: 'ops' }] } });
    await run.result();

    expect(run.activities.inputsOf('notify').map((input) => input.webhook)).toEqual([{ name: 'ops' }]);
  });

  it('makes a notification that failed a warning of the result, not a failure', async () => {
    const run = await env().start('cloneVM', clone, {
      notify: () => {
        throw activityFailure(ErrorCode.NETWORK_ERROR, 'https://hooks.example.com/… answered 503');
      },
    });
    const result = await run.result();

    expect(result.success).toBe(true);
    expect(result.warnings).toEqual([
      'notification to https://hooks.example.com/… failed: https://hooks.example.com/… answered 503',
    ]);
  });
});
