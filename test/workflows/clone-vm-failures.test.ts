/**
 * cloneVM's paths that end in a failure, a timeout or a cancellation, against stub
 * activities: what is undone (newest change first), and how the failure reads.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors';
import { activityFailure, untilCancelled } from '../helpers/stub-activities';
import { useStubWorker } from '../helpers/stub-worker';
import {
  DESTINATION,
  IMAGES,
  MISMATCH,
  MiB,
  SOURCE,
  SOURCE_UUID,
  VM,
  destinationCheck,
  healthyHosts,
  sourceInspection,
} from './stub-vm';

const env = useStubWorker(healthyHosts);
const clone = { source: SOURCE, destination: DESTINATION, vmName: VM };
const running = {
  inspectSource: () => sourceInspection({ state: 'running' }),
  recheckSource: () => ({ state: 'running' as const, uuid: SOURCE_UUID }),
};
const finalPath = `${IMAGES}/web01_clone-vda.qcow2`;
const WEBHOOK = 'https://hooks.example.com/kvm-clone';

/** The calls from the first call to `from` on. */
function callsFrom(names: string[], from: string): string[] {
  return names.slice(names.indexOf(from));
}

describe.concurrent('cloneVM failures', () => {
  it('fails with 1006 when a range still differs after one recopy, undoing the freeze, the copies and the lock in reverse', async () => {
    const run = await env().start('cloneVM', clone, { ...running, verifyRange: () => MISMATCH });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'transferRange')).toEqual([
      'transferRange',
      'verifyRange',
      'transferRange',
      'verifyRange',
      // The source is read again (it is unchanged, so the copy's failure stands).
      'recheckSource',
      // Compensations, newest first: merge the source back, remove the partial copies, release the lock.
      'mergeSource',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(run.activities.names()).not.toContain('finalizeFiles');
    expect(run.activities.names()).not.toContain('defineClone');
    expect(run.activities.inputOf('removeClone').paths).toEqual(
      run.activities.inputOf('prepareDisks').disks.map((disk) => disk.path),
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'TRANSFER_ERROR', details: [{ code: ErrorCode.TRANSFER_ERROR }] });
    expect(failure.message).toBe(
      `range 0+${64 * MiB} of ${IMAGES}/web01.qcow2 still differs after copying it again: sha256 ${'a1'.repeat(32)} on the source, ${'b2'.repeat(32)} on the destination`,
    );
  });

  it('fails with 1006 when the whole-file digests differ, before anything is renamed', async () => {
    const run = await env().start('cloneVM', clone, { verifyFile: () => MISMATCH });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'verifyFile')).toEqual([
      'verifyFile',
      'recheckSource',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(failure).toMatchObject({ type: 'TRANSFER_ERROR', details: [{ code: ErrorCode.TRANSFER_ERROR }] });
    expect(failure.message).toMatch(
      /^copy of \/var\/lib\/libvirt\/images\/web01\.qcow2 differs from its source: sha256/,
    );
  });

  it('with force, brings the old VM back when the clone fails before it is defined', async () => {
    const run = await env().start(
      'cloneVM',
      { ...clone, force: true },
      {
        checkDestination: () => destinationCheck({ replaced: { vmName: 'web01_clone', paths: [finalPath], kept: [] } }),
        finalizeFiles: () => {
          throw activityFailure(ErrorCode.LIBVIRT_ERROR, `cannot rename into ${finalPath}`);
        },
      },
    );
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'setAsideDomain')).toEqual([
      'setAsideDomain',
      'finalizeFiles',
      'removeRenamedFiles',
      'restoreDomain',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(run.activities.inputOf('restoreDomain')).toEqual(run.activities.inputOf('setAsideDomain'));
    expect(run.activities.inputOf('removeRenamedFiles').renames).toEqual(
      run.activities.inputOf('finalizeFiles').renames,
    );
    expect(failure).toMatchObject({
      type: 'LIBVIRT_ERROR',
      message: `cannot rename into ${finalPath}`,
      details: [{ code: ErrorCode.LIBVIRT_ERROR }],
    });
  });

  it('undoes every step in reverse when the define fails: the domain, the renamed files, the copies, the lock', async () => {
    const run = await env().start('cloneVM', clone, {
      defineClone: () => {
        throw activityFailure(ErrorCode.LIBVIRT_ERROR, 'virsh define: unsupported machine type');
      },
    });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'finalizeFiles')).toEqual([
      'finalizeFiles',
      'defineClone',
      'removeDefinedClone',
      'removeRenamedFiles',
      'removeClone',
      'releaseDestinationLock',
    ]);
    const uuid = run.activities.inputOf('defineClone').rewrite.uuid;
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.activities.inputOf('removeDefinedClone')).toEqual({
      destination: DESTINATION,
      vmName: 'web01_clone',
      uuid,
    });
    expect(failure).toMatchObject({ type: 'LIBVIRT_ERROR', details: [{ code: ErrorCode.LIBVIRT_ERROR }] });
  });

  it('reports a cleanup step that failed as 1200, with the first cause and what was left in the details', async () => {
    const run = await env().start('cloneVM', clone, {
      verifyFile: () => MISMATCH,
      removeClone: () => {
        throw activityFailure(ErrorCode.CONNECTION_ERROR, 'ssh to dst: connection reset');
      },
    });
    const failure = await run.failure();

    // The failed step does not stop the ones after it.
    expect(callsFrom(run.activities.names(), 'verifyFile')).toEqual([
      'verifyFile',
      'recheckSource',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'CLONE_ERROR',
      nonRetryable: true,
      details: [
        {
          code: ErrorCode.CLONE_ERROR,
          cause: { code: ErrorCode.TRANSFER_ERROR, codeName: 'TRANSFER_ERROR' },
          cleanupFailures: [
            {
              step: 'remove partial copies',
              code: ErrorCode.CONNECTION_ERROR,
              message: 'ssh to dst: connection reset',
              left: expect.stringContaining('partial copies may remain on dst'),
            },
          ],
        },
      ],
    });
    expect(failure.message).toMatch(
      /^copy of .* differs from its source: .*; cleanup failed: remove partial copies \(ssh to dst: connection reset\); partial copies may remain on dst: /,
    );
  });

  it('gives up after its timeout with OPERATION_TIMEOUT, having cleaned up', async () => {
    const run = await env().start('cloneVM', { ...clone, timeout: 2 }, { transferRange: untilCancelled });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'transferRange')).toEqual([
      'transferRange',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'OPERATION_TIMEOUT',
      message: `clone of 'web01' did not finish within 2 s; the destination was cleaned up and the source left as it was`,
      details: [{ code: ErrorCode.OPERATION_TIMEOUT }],
    });
  });

  it('ends cancelled when the client cancels it, having merged the source back and cleaned up', async () => {
    const run = await env().start(
      'cloneVM',
      { ...clone, notify: { webhooks: [{ url: WEBHOOK }] } },
      {
        ...running,
        transferRange: untilCancelled,
      },
    );
    await run.activities.waitForCall('transferRange');
    await run.handle.cancel();
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'transferRange')).toEqual([
      'transferRange',
      'mergeSource',
      'removeClone',
      'releaseDestinationLock',
      'notify',
    ]);
    expect(failure).toBeInstanceOf(CancelledFailure);
    expect((await run.handle.describe()).status.name).toBe('CANCELLED');
    // A cancelled workflow's own message stays in the workflow; its webhooks are told it.
    expect(run.activities.inputOf('notify').document.error).toEqual({
      code: ErrorCode.OPERATION_CANCELLED_ERROR,
      codeName: 'OPERATION_CANCELLED_ERROR',
      message: `clone of 'web01' was cancelled; the destination was cleaned up and the source left as it was`,
    });
  });

  it('reports a failed cleanup after a cancellation as 1200 with the cancellation as its cause', async () => {
    const run = await env().start('cloneVM', clone, {
      transferRange: untilCancelled,
      releaseDestinationLock: () => {
        throw activityFailure(ErrorCode.CONNECTION_ERROR, 'ssh to dst: no route to host');
      },
    });
    await run.activities.waitForCall('transferRange');
    await run.handle.cancel();
    const failure = await run.failure();

    expect(failure).toMatchObject({
      type: 'CLONE_ERROR',
      details: [
        {
          code: ErrorCode.CLONE_ERROR,
          cause: { code: ErrorCode.OPERATION_CANCELLED_ERROR },
          cleanupFailures: [{ step: 'release the destination lock', left: "'web01_clone' stays locked on dst" }],
        },
      ],
    });
    expect(failure.message).toMatch(/^clone of 'web01' was cancelled; cleanup failed: release the destination lock/);
  });
});

describe.concurrent('cloneVM of a source that changed during the copy', () => {
  const stamps = { [`${IMAGES}/web01.qcow2`]: '67108864 1700000000.000000000 1700000000.000000000' };
  const shutOff = {
    inspectSource: () => sourceInspection({ fingerprints: stamps }),
    recheckSource: () => ({ state: 'shut off' as const, uuid: SOURCE_UUID, fingerprints: stamps }),
  };

  it('reads a shut-off source again after the verified copy, with its files, and defines the clone when nothing changed', async () => {
    const run = await env().start('cloneVM', clone, shutOff);
    await run.result();

    const names = run.activities.names();
    expect(names.slice(names.indexOf('verifyFile'), names.indexOf('defineClone') + 1)).toEqual([
      'verifyFile',
      'recheckSource',
      'finalizeFiles',
      'defineClone',
    ]);
    expect(run.activities.inputOf('recheckSource')).toEqual({
      source: SOURCE,
      vmName: VM,
      paths: [`${IMAGES}/web01.qcow2`],
    });
  });

  it('fails with 1003 when the source was undefined, discarding the copy before anything is renamed', async () => {
    const run = await env().start('cloneVM', clone, { ...shutOff, recheckSource: () => ({}) });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'recheckSource')).toEqual([
      'recheckSource',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(failure).toMatchObject({
      type: 'VM_NOT_FOUND_ERROR',
      message: "VM 'web01' on src was undefined during the copy; the copy was discarded",
      details: [{ code: ErrorCode.VM_NOT_FOUND_ERROR }],
    });
  });

  it('fails with 1003 when another domain took the name', async () => {
    const other = '0a0b0c0d-1111-4222-8333-444455556666';
    const run = await env().start('cloneVM', clone, { recheckSource: () => ({ state: 'shut off', uuid: other }) });
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'VM_NOT_FOUND_ERROR' });
    expect(failure.message).toContain(`replaced during the copy by another domain of that name (UUID ${other}`);
    expect(run.activities.names()).not.toContain('defineClone');
  });

  it('fails with 1200 when a shut-off source was started: an offline copy of a running VM is inconsistent', async () => {
    const run = await env().start('cloneVM', clone, {
      ...shutOff,
      recheckSource: () => ({ state: 'running', uuid: SOURCE_UUID }),
    });
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'CLONE_ERROR', details: [{ code: ErrorCode.CLONE_ERROR }] });
    expect(failure.message).toMatch(
      /^VM 'web01' on src was started during the copy of it shut off \(it is running now\)/,
    );
    expect(run.activities.names()).not.toContain('finalizeFiles');
  });

  it('fails with 1200 when the files of a shut-off source changed, though it is shut off again', async () => {
    const written = { [`${IMAGES}/web01.qcow2`]: '67108864 1700000099.000000000 1700000099.000000000' };
    const run = await env().start('cloneVM', clone, {
      ...shutOff,
      recheckSource: () => ({ state: 'shut off', uuid: SOURCE_UUID, fingerprints: written }),
    });
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'CLONE_ERROR' });
    expect(failure.message).toBe(
      `the files of VM 'web01' on src changed during the copy of it shut off (${IMAGES}/web01.qcow2): was it started meanwhile? clone it again while it stays shut off; the copy was discarded`,
    );
  });

  it('fails with 1200 when a running source stopped, merging it back before removing the copies', async () => {
    const run = await env().start('cloneVM', clone, {
      ...running,
      recheckSource: () => ({ state: 'shut off', uuid: SOURCE_UUID }),
      mergeSource: () => 'merged-offline',
    });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'verifyFile')).toEqual([
      'verifyFile',
      'recheckSource',
      'mergeSource',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(run.activities.inputOf('recheckSource').paths).toEqual([]);
    expect(failure).toMatchObject({ type: 'CLONE_ERROR' });
    expect(failure.message).toBe(
      "VM 'web01' on src stopped during the copy of it running (it is shut off now); clone it again; the copy was discarded",
    );
  });

  it('accepts a running source that was paused meanwhile', async () => {
    const run = await env().start('cloneVM', clone, {
      ...running,
      recheckSource: () => ({ state: 'paused', uuid: SOURCE_UUID }),
    });
    await expect(run.result()).resolves.toMatchObject({ success: true, consistency: 'crash-consistent' });
  });

  it('expects a shut-off source when the running one had stopped before its snapshot, so the copy was offline', async () => {
    const run = await env().start('cloneVM', clone, {
      ...running,
      freezeSource: () => ({ consistency: 'offline', frozen: false, warnings: [] }),
      recheckSource: () => ({ state: 'shut off', uuid: SOURCE_UUID }),
    });
    await expect(run.result()).resolves.toMatchObject({ success: true, consistency: 'offline' });
  });

  it('reports a changed source instead of the copy failure it explains', async () => {
    const run = await env().start('cloneVM', clone, {
      ...shutOff,
      verifyFile: () => MISMATCH,
      recheckSource: () => ({ state: 'running', uuid: SOURCE_UUID }),
    });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'verifyFile')).toEqual([
      'verifyFile',
      'recheckSource',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(failure).toMatchObject({ type: 'CLONE_ERROR' });
    expect(failure.message).toMatch(/was started during the copy of it shut off/);
  });

  it('keeps the copy failure when the source cannot be read again', async () => {
    const run = await env().start('cloneVM', clone, {
      verifyFile: () => MISMATCH,
      recheckSource: () => {
        throw activityFailure(ErrorCode.CONNECTION_ERROR, 'ssh to src: connection refused');
      },
    });
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'TRANSFER_ERROR', details: [{ code: ErrorCode.TRANSFER_ERROR }] });
  });

  it('fails with 1005 when the destination cannot run the clone it is to start, before any disk is made', async () => {
    const message =
      "'web01_clone' cannot start on dst: it asks for 64 vCPUs and the host has 2 CPUs; clone without start, or free memory or CPUs there first";
    const run = await env().start(
      'cloneVM',
      { ...clone, start: true },
      {
        checkDestination: () => {
          throw activityFailure(ErrorCode.INSUFFICIENT_RESOURCES_ERROR, message);
        },
      },
    );
    const failure = await run.failure();

    expect(run.activities.names()).toEqual([
      'acquireDestinationLock',
      'inspectSource',
      'checkDestination',
      'releaseDestinationLock',
    ]);
    expect(failure).toMatchObject({
      type: 'INSUFFICIENT_RESOURCES_ERROR',
      message,
      details: [{ code: ErrorCode.INSUFFICIENT_RESOURCES_ERROR }],
    });
  });
});
