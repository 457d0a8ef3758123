/**
 * cloneVM's paths that end in a clone (or a plan), against stub activities: which steps run,
 * in which order, with which inputs, and what the result says.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors';
import { activityFailure } from '../helpers/stub-activities';
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
  digests,
  healthyHosts,
  sourceInspection,
} from './stub-vm';

const env = useStubWorker(healthyHosts);
const clone = { source: SOURCE, destination: DESTINATION, vmName: VM };
const finalPath = `${IMAGES}/web01_clone-vda.qcow2`;
const partialPath = expect.stringMatching(/^\/var\/lib\/libvirt\/images\/web01_clone-vda\.qcow2\.kvm-clone-\w+\.part$/);

describe.concurrent('cloneVM', () => {
  it('plans a dry run without writing anything', async () => {
    const run = await env().start('cloneVM', { ...clone, dryRun: true });
    const result = await run.result();

    expect(run.activities.names()).toEqual(['inspectSource', 'checkDestination', 'mapFiles']);
    expect(result).toMatchObject({ success: true, dryRun: true, newName: 'web01_clone', files: [], started: false });
    expect(result.plan).toMatchObject({
      files: [{ target: 'vda', dataBytes: 32 * MiB, sourcePath: `${IMAGES}/web01.qcow2`, destinationPath: finalPath }],
      bytesToTransfer: 32 * MiB,
      destinationDir: IMAGES,
      consistency: 'offline',
    });
    expect(result.plan?.xmlDiff).toContain('+  <name>web01_clone</name>');
  });

  it('copies a shut-off VM under a lock: partial files, copy, verify, rename, define, release', async () => {
    const run = await env().start('cloneVM', clone);
    const result = await run.result();

    expect(run.activities.names()).toEqual([
      'acquireDestinationLock',
      'inspectSource',
      'checkDestination',
      'prepareDisks',
      'mapFiles',
      'transferRange',
      'verifyRange',
      'verifyFile',
      'recheckSource',
      'finalizeFiles',
      'defineClone',
      'releaseDestinationLock',
    ]);
    const { activities } = run;
    expect(activities.inputOf('acquireDestinationLock')).toEqual({ destination: DESTINATION, name: 'web01_clone' });
    expect(activities.inputOf('prepareDisks').disks).toEqual([{ path: partialPath, size: 64 * MiB }]);
    expect(activities.inputOf('transferRange')).toMatchObject({
      source: SOURCE,
      destination: DESTINATION,
      sourcePath: `${IMAGES}/web01.qcow2`,
      destinationPath: partialPath,
      range: { start: 0, length: 64 * MiB, dataBytes: 32 * MiB },
    });
    expect(activities.inputOf('verifyFile').destinationPath).toEqual(partialPath);
    expect(activities.inputOf('finalizeFiles').renames).toEqual([{ from: partialPath, to: finalPath }]);
    expect(activities.inputOf('defineClone')).toMatchObject({
      destination: DESTINATION,
      rewrite: { newName: 'web01_clone', diskPaths: { vda: finalPath } },
      start: false,
      createdFiles: [finalPath],
    });
    expect(activities.inputOf('releaseDestinationLock')).toEqual({ destination: DESTINATION, name: 'web01_clone' });
    expect(result).toMatchObject({
      success: true,
      dryRun: false,
      newName: 'web01_clone',
      bytesTransferred: 32 * MiB,
      bytesSkippedAsHoles: 32 * MiB,
      rangesRecopied: 0,
      consistency: 'offline',
      files: [{ target: 'vda', destinationPath: finalPath, digest: { algorithm: 'sha256' } }],
      warnings: [],
    });
    expect(result.replaced).toBeUndefined();
  });

  it('freezes a running source for the copy and merges it back before defining the clone', async () => {
    const run = await env().start(
      'cloneVM',
      { ...clone, start: true },
      {
        inspectSource: () => sourceInspection({ state: 'running', guestAgent: true }),
        recheckSource: () => ({ state: 'running', uuid: SOURCE_UUID }),
      },
    );
    const result = await run.result();

    expect(run.activities.names()).toEqual([
      'acquireDestinationLock',
      'inspectSource',
      'checkDestination',
      'prepareDisks',
      'freezeSource',
      'mapFiles',
      'transferRange',
      'verifyRange',
      'verifyFile',
      'recheckSource',
      'mergeSource',
      'finalizeFiles',
      'defineClone',
      'releaseDestinationLock',
    ]);
    const overlay = expect.stringMatching(/^\/var\/lib\/libvirt\/images\/web01\.qcow2\.kvm-clone-\w+\.overlay$/);
    const frozenDisks = [{ target: 'vda', basePath: `${IMAGES}/web01.qcow2`, overlayPath: overlay }];
    expect(run.activities.inputOf('freezeSource')).toMatchObject({ vmName: VM, quiesce: true, disks: frozenDisks });
    expect(run.activities.inputOf('mergeSource')).toMatchObject({ vmName: VM, disks: frozenDisks });
    expect(run.activities.inputOf('defineClone').start).toBe(true);
    expect(result).toMatchObject({ consistency: 'quiesced', started: true });
  });

  it('copies a range again when its digests differ, and goes on when the second copy matches', async () => {
    const run = await env().start('cloneVM', clone, {
      verifyRange: (_, call) => (call === 0 ? MISMATCH : digests()),
    });
    const result = await run.result();

    const names = run.activities.names();
    expect(names.slice(names.indexOf('transferRange'), names.indexOf('verifyFile') + 1)).toEqual([
      'transferRange',
      'verifyRange',
      'transferRange',
      'verifyRange',
      'verifyFile',
    ]);
    const [first, again] = run.activities.inputsOf('transferRange');
    expect(again).toEqual(first);
    expect(result.rangesRecopied).toBe(1);
    expect(result.bytesTransferred).toBe(64 * MiB);
    expect(result.warnings).toEqual([
      `range 0+${64 * MiB} of ${IMAGES}/web01.qcow2 differed after the copy and was copied again`,
    ]);
  });

  it('with force, sets the old VM aside once the copy is verified and removes it once the clone is defined', async () => {
    const oldExtra = `${IMAGES}/web01_clone-scratch.img`;
    const run = await env().start(
      'cloneVM',
      { ...clone, force: true },
      {
        checkDestination: () =>
          destinationCheck({ replaced: { vmName: 'web01_clone', paths: [finalPath, oldExtra], kept: [] } }),
      },
    );
    const result = await run.result();

    expect(run.activities.inputOf('checkDestination').force).toBe(true);
    const names = run.activities.names();
    expect(names.slice(names.indexOf('verifyFile'))).toEqual([
      'verifyFile',
      'recheckSource',
      'setAsideDomain',
      'finalizeFiles',
      'defineClone',
      'removeClone',
      'discardReplacedDomain',
      'releaseDestinationLock',
    ]);
    const aside = expect.stringMatching(
      /^\/var\/lib\/libvirt\/images\/web01_clone-vda\.qcow2\.kvm-clone-\w+\.replaced$/,
    );
    expect(run.activities.inputOf('setAsideDomain')).toEqual({
      destination: DESTINATION,
      vmName: 'web01_clone',
      moves: [{ from: finalPath, to: aside }],
    });
    expect(run.activities.inputOf('removeClone').paths).toEqual([aside, oldExtra]);
    expect(run.activities.inputOf('discardReplacedDomain')).toEqual({
      destination: DESTINATION,
      vmName: 'web01_clone',
    });
    expect(result).toMatchObject({ success: true, replaced: 'web01_clone', warnings: [] });
  });

  it('with force, keeps a defined clone when the old VM cannot be removed, and says what is left', async () => {
    const run = await env().start(
      'cloneVM',
      { ...clone, force: true },
      {
        checkDestination: () => destinationCheck({ replaced: { vmName: 'web01_clone', paths: [finalPath], kept: [] } }),
        removeClone: () => {
          throw activityFailure(ErrorCode.PERMISSION_DENIED, 'rm: permission denied');
        },
        discardReplacedDomain: () => {
          throw activityFailure(ErrorCode.CONNECTION_ERROR, 'ssh to dst: connection reset');
        },
      },
    );
    const result = await run.result();

    expect(run.activities.names()).not.toContain('restoreDomain');
    expect(result).toMatchObject({ success: true, replaced: 'web01_clone' });
    expect(result.warnings).toEqual([
      expect.stringMatching(
        /^the files of the replaced VM 'web01_clone' could not all be removed \(rm: permission denied\): .*\.replaced$/,
      ),
      "the TPM state or saved definition of the replaced VM 'web01_clone' could not be removed: ssh to dst: connection reset",
    ]);
  });

  it.each([
    { input: { direct: true }, transport: 'direct', request: { direct: true }, warnings: [] },
    {
      input: { direct: true, bandwidthLimit: '8M' },
      transport: 'relay',
      // Four ranges at once share the limit.
      request: { bytesPerSecond: 2 * MiB },
      warnings: ['bandwidthLimit is enforced by the relay, so this operation relays instead of pushing directly'],
    },
  ])('pushes directly or relays at a paced rate: $input', async ({ input, transport, request, warnings }) => {
    const run = await env().start('cloneVM', { ...clone, ...input });
    const result = await run.result();

    expect(run.activities.inputOf('transferRange')).toMatchObject(request);
    expect(result).toMatchObject({ transport, warnings });
  });

  it('fails at once, touching nothing, when another operation holds the destination lock', async () => {
    const message = "'web01_clone' on dst is being written by operation other-op; try again when it has finished";
    const run = await env().start('cloneVM', clone, {
      acquireDestinationLock: () => {
        throw activityFailure(ErrorCode.VM_EXISTS_ERROR, message);
      },
    });
    const failure = await run.failure();

    expect(run.activities.names()).toEqual(['acquireDestinationLock']);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'VM_EXISTS_ERROR', message, details: [{ code: ErrorCode.VM_EXISTS_ERROR }] });
  });

  it('keeps a finished clone when the lock cannot be released, and says so', async () => {
    const run = await env().start('cloneVM', clone, {
      releaseDestinationLock: () => {
        throw activityFailure(ErrorCode.CONNECTION_ERROR, 'ssh to dst: connection reset');
      },
    });
    const result = await run.result();

    expect(run.activities.names().at(-1)).toBe('releaseDestinationLock');
    expect(run.activities.inputsOf('releaseDestinationLock')).toHaveLength(1);
    expect(result.success).toBe(true);
    expect(result.warnings).toEqual(["the lock on 'web01_clone' could not be released: ssh to dst: connection reset"]);
  });

  it('refuses an invalid input before any host is touched', async () => {
    const run = await env().start('cloneVM', { ...clone, parallel: 0 });
    const failure = await run.failure();

    expect(run.activities.names()).toEqual([]);
    expect(failure).toMatchObject({ type: 'VALIDATION_ERROR', details: [{ code: ErrorCode.VALIDATION_ERROR }] });
    expect(failure.message).toContain('parallel');
  });

  it("asks the destination for the domain's memory and vCPUs, with start, and passes its warnings on", async () => {
    const short =
      "'web01_clone' may not start on dst: it asks for 2.0 GiB of memory and the host has 1.0 GiB available (the clone is defined, not started)";
    const run = await env().start('cloneVM', clone, {
      checkDestination: () => destinationCheck({ warnings: [short] }),
    });
    const result = await run.result();

    expect(run.activities.inputOf('checkDestination')).toMatchObject({
      resources: { memoryBytes: 2048 * MiB, vcpus: 2 },
      start: false,
    });
    expect(result).toMatchObject({ success: true, started: false, warnings: [short] });
    const started = await env().start('cloneVM', { ...clone, newName: 'web01_started', start: true });
    await started.result();
    expect(started.activities.inputOf('checkDestination').start).toBe(true);
  });
});
