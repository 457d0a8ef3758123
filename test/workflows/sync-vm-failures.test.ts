/**
 * syncVM's paths that end in a failure, a timeout or a cancellation, against stub
 * activities: what is undone, and how the failure reads (the target stays marked incomplete
 * once the sync has inspected it).
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
  VM,
  diskFile,
  healthyHosts,
  sourceDisk,
  sourceInspection,
  syncTargetStep,
  targetInspection,
} from './stub-vm';

const env = useStubWorker(healthyHosts);
const sync = { source: SOURCE, destination: DESTINATION, vmName: VM };
const sourcePath = `${IMAGES}/web01.qcow2`;
const targetPath = `${IMAGES}/web01.qcow2`;
const INCOMPLETE = "'web01' stays marked incomplete until a sync finishes";
const running = () => sourceInspection({ state: 'running' });
const withAddedDisk = (inspection = sourceInspection()) => ({
  ...inspection,
  files: [sourceDisk, diskFile('vdb', `${IMAGES}/web01-data.qcow2`, 32 * MiB)],
});

/** The calls from the first call to `from` on. */
function callsFrom(names: string[], from: string): string[] {
  return names.slice(names.indexOf(from));
}

describe.concurrent('syncVM failures', () => {
  it('refuses with 1204 when the disks added on the source do not fit beside the target, before writing', async () => {
    const run = await env().start('syncVM', sync, {
      inspectSource: () => withAddedDisk(),
      inspectTarget: () => targetInspection({ freeBytes: MiB }),
    });
    const failure = await run.failure();

    expect(run.activities.names()).toEqual([
      'acquireDestinationLock',
      'inspectSource',
      'inspectTarget',
      'releaseDestinationLock',
    ]);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'DISK_SPACE_ERROR',
      nonRetryable: true,
      message: `the disks added on the source need ${32 * MiB} bytes; ${MiB} are free beside 'web01'; ${INCOMPLETE}`,
      details: [{ code: ErrorCode.DISK_SPACE_ERROR }],
    });
  });

  it('fails with 1006 when a range still differs after copying it again', async () => {
    const run = await env().start('syncVM', sync, { verifyRange: () => MISMATCH });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'syncRange')).toEqual([
      'syncRange',
      'verifyRange',
      'syncRange',
      'verifyRange',
      'releaseDestinationLock',
    ]);
    expect(run.activities.inputsOf('syncRange').map((input) => input.mode)).toEqual(['delta', 'full']);
    // The delta's blocks first, then the whole tile it copied again.
    expect(run.activities.inputsOf('verifyRange').map((input) => input.extents)).toEqual([
      [{ start: 0, length: 64 * 1024 }],
      undefined,
    ]);
    expect(failure).toMatchObject({ type: 'TRANSFER_ERROR', details: [{ code: ErrorCode.TRANSFER_ERROR }] });
    expect(
      failure.message.startsWith(`range 0+${64 * MiB} of ${sourcePath} still differs after copying it again`),
    ).toBe(true);
    expect(failure.message.endsWith(`; ${INCOMPLETE}`)).toBe(true);
  });

  it('fails with 1006 when the whole file still differs after its tiles were checked again', async () => {
    const run = await env().start('syncVM', sync, { verifyFile: () => MISMATCH });
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'verifyFile')).toEqual([
      'verifyFile',
      'verifyRange',
      'verifyFile',
      'releaseDestinationLock',
    ]);
    expect(failure).toMatchObject({
      type: 'TRANSFER_ERROR',
      message: `${targetPath} differs from ${sourcePath} after the sync; ${INCOMPLETE}`,
    });
  });

  it('does not call the target incomplete when the sync failed before inspecting it', async () => {
    const run = await env().start('syncVM', sync, {
      inspectSource: () => {
        throw activityFailure(ErrorCode.VM_NOT_FOUND_ERROR, "domain 'web01' not found on src");
      },
    });
    const failure = await run.failure();

    expect(run.activities.names()).toEqual(['acquireDestinationLock', 'inspectSource', 'releaseDestinationLock']);
    expect(failure).toMatchObject({
      type: 'VM_NOT_FOUND_ERROR',
      message: "domain 'web01' not found on src",
      details: [{ code: ErrorCode.VM_NOT_FOUND_ERROR }],
    });
  });

  it('gives up after its timeout with OPERATION_TIMEOUT, having merged the source back', async () => {
    const run = await env().start(
      'syncVM',
      { ...sync, timeout: 2 },
      {
        inspectSource: running,
        syncRange: untilCancelled,
      },
    );
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'syncRange')).toEqual([
      'syncRange',
      'mergeSource',
      'releaseDestinationLock',
    ]);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'OPERATION_TIMEOUT',
      nonRetryable: true,
      message: `sync of 'web01' did not finish within 2 s; ${INCOMPLETE}`,
      details: [{ code: ErrorCode.OPERATION_TIMEOUT }],
    });
  });

  it('ends cancelled when the client cancels it, and tells its webhooks the target stays incomplete', async () => {
    const notify = { webhooks: [{ url: 'https://hooks.example.com/kvm-clone' }] };
    const run = await env().start('syncVM', { ...sync, notify }, { syncRange: untilCancelled });
    await run.activities.waitForCall('syncRange');
    await run.handle.cancel();
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'syncRange')).toEqual(['syncRange', 'releaseDestinationLock', 'notify']);
    expect(failure).toBeInstanceOf(CancelledFailure);
    expect(run.activities.inputOf('notify').document).toMatchObject({
      event: 'cancelled',
      kind: 'sync',
      error: { code: ErrorCode.OPERATION_CANCELLED_ERROR, message: `sync of 'web01' was cancelled; ${INCOMPLETE}` },
    });
  });

  it('reports a cleanup step that failed as 1201, having run the others newest first', async () => {
    const run = await env().start(
      'syncVM',
      { ...sync, checkpoint: true, parallel: 1 },
      {
        inspectSource: () => withAddedDisk(running()),
        syncRange: () => {
          throw activityFailure(ErrorCode.TRANSFER_ERROR, 'relay to dst: broken pipe');
        },
        mergeSource: () => {
          throw activityFailure(ErrorCode.LIBVIRT_ERROR, 'blockcommit: block job failed');
        },
      },
    );
    const failure = await run.failure();

    expect(callsFrom(run.activities.names(), 'prepareDisks')).toEqual([
      'prepareDisks',
      'createCheckpoint',
      'freezeSource',
      'syncRange',
      // Compensations, newest first: merge the source back (fails), remove the new checkpoint,
      // remove the added disk's file, release the lock.
      'mergeSource',
      'removeCheckpoints',
      syncTargetStep.removeAddedDisks,
      'releaseDestinationLock',
    ]);
    expect(run.activities.inputOf(syncTargetStep.removeAddedDisks).paths).toEqual(
      run.activities.inputOf('prepareDisks').disks.map((disk) => disk.path),
    );
    expect(run.activities.inputOf('removeCheckpoints').keep).toEqual([]);
    expect(failure).toMatchObject({
      type: 'SYNC_ERROR',
      nonRetryable: true,
      details: [
        {
          code: ErrorCode.SYNC_ERROR,
          cause: { code: ErrorCode.TRANSFER_ERROR, codeName: 'TRANSFER_ERROR' },
          cleanupFailures: [
            {
              step: 'merge the source back',
              code: ErrorCode.LIBVIRT_ERROR,
              message: 'blockcommit: block job failed',
              left: expect.stringMatching(/^'web01' on src may still run on its overlays /),
            },
          ],
        },
      ],
    });
    expect(failure.message).toMatch(
      /^relay to dst: broken pipe; 'web01' stays marked incomplete until a sync finishes; cleanup failed: merge the source back \(blockcommit: block job failed\); 'web01' on src may still run/,
    );
  });
});
