/**
 * syncVM's paths that end in an up-to-date target, against stub activities: how it finds
 * what changed (checkpoint bitmaps, block hashes, or a whole copy), which steps run in which
 * order, and what the result says.
 */
import { describe, expect, it } from 'vitest';
import { checkpointPrefix } from '../../src/domain/change-tracking';
import { useStubWorker } from '../helpers/stub-worker';
import {
  DESTINATION,
  IMAGES,
  MISMATCH,
  MiB,
  SOURCE,
  TARGET_UUID,
  VM,
  checkpointRecord,
  digests,
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
/** The target's own disk: it lives on the destination under the same name. */
const targetPath = `${IMAGES}/web01.qcow2`;
const BLOCK = 64 * 1024;
const running = () => sourceInspection({ state: 'running' });

describe.concurrent('syncVM', () => {
  it('sends the blocks that differ by hash (delta) and redefines the target, under the lock', async () => {
    const run = await env().start('syncVM', sync);
    const result = await run.result();

    expect(run.activities.names()).toEqual([
      'acquireDestinationLock',
      'inspectSource',
      'inspectTarget',
      'syncRange',
      'verifyRange',
      'verifyFile',
      syncTargetStep.redefineTarget,
      'releaseDestinationLock',
    ]);
    const { activities } = run;
    expect(activities.inputOf('acquireDestinationLock')).toEqual({ destination: DESTINATION, name: VM });
    expect(activities.inputOf('inspectTarget')).toEqual({
      destination: DESTINATION,
      targetName: VM,
      operationId: run.handle.workflowId,
    });
    expect(activities.inputOf('syncRange')).toMatchObject({
      sourcePath,
      destinationPath: targetPath,
      range: { start: 0, length: 64 * MiB },
      mode: 'delta',
      hashTool: 'python3',
      blockSize: BLOCK,
    });
    // What the delta wrote is checked at once; the whole file after.
    expect(activities.inputOf('verifyRange').extents).toEqual([{ start: 0, length: BLOCK }]);
    expect(activities.inputOf(syncTargetStep.redefineTarget)).toMatchObject({
      destination: DESTINATION,
      rewrite: { newName: VM, uuid: TARGET_UUID, diskPaths: { vda: targetPath } },
    });
    expect(result).toMatchObject({
      success: true,
      targetName: VM,
      changeTracking: 'block-hash',
      hashTool: 'python3',
      bytesTransferred: BLOCK,
      blocksSynchronized: 1,
      bytesCompared: 64 * MiB,
      bytesUnchanged: 64 * MiB - BLOCK,
      consistency: 'offline',
      rangesRecopied: 0,
      detachedDisks: [],
      files: [{ target: 'vda', action: 'updated', changeTracking: 'block-hash', verification: 'file' }],
      warnings: [],
    });
    expect(result.files[0]?.digest?.source).toBe(digests().source.hex);
    expect(result.checkpoint).toBeUndefined();
  });

  it("sends what the last checkpoint's bitmap saw written (tracked) and leaves a checkpoint for the next sync", async () => {
    const prefix = checkpointPrefix(TARGET_UUID);
    const record = checkpointRecord(`${prefix}1700000000000`, targetPath);
    const run = await env().start(
      'syncVM',
      { ...sync, checkpoint: true },
      {
        inspectSource: running,
        inspectTarget: () => targetInspection({ checkpoint: record, fingerprints: record.fingerprints }),
      },
    );
    const result = await run.result();

    expect(run.activities.names()).toEqual([
      'acquireDestinationLock',
      'inspectSource',
      'inspectTarget',
      // Before the freeze, so the new bitmap holds every write the copy misses.
      'createCheckpoint',
      'freezeSource',
      'trackChanges',
      'syncRange',
      'verifyRange',
      // No whole-file digest: the bitmap vouches for the blocks it did not see written.
      'mergeSource',
      syncTargetStep.redefineTarget,
      'recordCheckpoint',
      'removeCheckpoints',
      'releaseDestinationLock',
    ]);
    const { activities } = run;
    const created = activities.inputOf('createCheckpoint');
    expect(created).toMatchObject({ vmName: VM, bitmapTargets: ['vda'] });
    expect(created.name.startsWith(prefix)).toBe(true);
    expect(activities.inputOf('trackChanges')).toMatchObject({
      since: record.name,
      disks: [{ target: 'vda', path: sourcePath, fileSize: 64 * MiB }],
      blockSize: BLOCK,
    });
    const changed = [{ start: 0, length: 2 * BLOCK }];
    expect(activities.inputOf('syncRange')).toMatchObject({ mode: 'tracked', tracked: { changed, compare: [] } });
    expect(activities.inputOf('verifyRange').extents).toEqual(changed);
    expect(activities.inputOf('recordCheckpoint')).toMatchObject({
      targetName: VM,
      checkpoint: created.name,
      paths: [targetPath],
    });
    expect(activities.inputOf('removeCheckpoints')).toMatchObject({ prefix, keep: [created.name] });
    expect(result).toMatchObject({
      changeTracking: 'checkpoint',
      checkpoint: created.name,
      consistency: 'crash-consistent',
      bytesTransferred: 2 * BLOCK,
      files: [{ changeTracking: 'checkpoint', verification: 'synced-ranges' }],
      warnings: [],
    });
  });

  it('hashes when no earlier sync left a checkpoint, and leaves one for the next sync', async () => {
    const run = await env().start('syncVM', { ...sync, checkpoint: true }, { inspectSource: running });
    const result = await run.result();

    const names = run.activities.names();
    expect(names).not.toContain('trackChanges');
    expect(names.slice(names.indexOf('createCheckpoint'))).toEqual([
      'createCheckpoint',
      'freezeSource',
      'syncRange',
      'verifyRange',
      'verifyFile',
      'mergeSource',
      syncTargetStep.redefineTarget,
      'recordCheckpoint',
      'removeCheckpoints',
      'releaseDestinationLock',
    ]);
    expect(run.activities.inputOf('syncRange').mode).toBe('delta');
    expect(result).toMatchObject({
      changeTracking: 'block-hash',
      checkpoint: run.activities.inputOf('createCheckpoint').name,
      warnings: [
        "no checkpoint from an earlier sync into 'web01'; this sync hashes, and leaves a checkpoint for the next one",
      ],
    });
  });

  it('neither sends nor checks a tile the bitmap saw untouched', async () => {
    const prefix = checkpointPrefix(TARGET_UUID);
    const record = checkpointRecord(`${prefix}1700000000000`, targetPath);
    const run = await env().start(
      'syncVM',
      { ...sync, checkpoint: true },
      {
        inspectSource: running,
        inspectTarget: () => targetInspection({ checkpoint: record, fingerprints: record.fingerprints }),
        trackChanges: () => ({ disks: { vda: { changed: [], compare: [] } } }),
      },
    );
    const result = await run.result();

    expect(run.activities.names()).not.toContain('syncRange');
    expect(run.activities.names()).not.toContain('verifyRange');
    expect(result).toMatchObject({ changeTracking: 'checkpoint', bytesTransferred: 0, bytesUnchanged: 64 * MiB });
  });

  it.each([
    {
      why: 'no block-hash tool on the target',
      input: {},
      scripts: {
        inspectTarget: () => targetInspection({ tools: { zstd: true, lz4: false, python3: false, perl: false } }),
      },
      warnings: [
        'neither python3 nor perl is on both hosts, so blocks cannot be compared in place; every disk is copied whole',
      ],
    },
    { why: 'deltaOnly: false', input: { deltaOnly: false }, scripts: {}, warnings: [] },
  ])('copies every disk whole (full) with $why', async ({ input, scripts, warnings }) => {
    const run = await env().start('syncVM', { ...sync, ...input }, scripts);
    const result = await run.result();

    expect(run.activities.names()).toEqual([
      'acquireDestinationLock',
      'inspectSource',
      'inspectTarget',
      'syncRange',
      'verifyRange',
      'verifyFile',
      syncTargetStep.redefineTarget,
      'releaseDestinationLock',
    ]);
    expect(run.activities.inputOf('syncRange')).toMatchObject({ mode: 'full', hashTool: 'none' });
    // A whole copy is checked whole.
    expect(run.activities.inputOf('verifyRange').extents).toBeUndefined();
    expect(result).toMatchObject({
      changeTracking: 'full-copy',
      hashTool: 'none',
      bytesTransferred: 64 * MiB,
      files: [{ changeTracking: 'full-copy' }],
      warnings,
    });
  });

  it('creates a disk added on the source under a partial name, copies it whole and renames it into the target', async () => {
    const addedDisk = diskFile('vdb', `${IMAGES}/web01-data.qcow2`, 32 * MiB);
    const run = await env().start(
      'syncVM',
      { ...sync, parallel: 1 },
      {
        inspectSource: () => sourceInspection({}, [sourceDisk, addedDisk]),
      },
    );
    const result = await run.result();

    expect(run.activities.names()).toEqual([
      'acquireDestinationLock',
      'inspectSource',
      'inspectTarget',
      'prepareDisks',
      'syncRange',
      'verifyRange',
      'syncRange',
      'verifyRange',
      'verifyFile',
      'verifyFile',
      syncTargetStep.renameAddedDisks,
      syncTargetStep.redefineTarget,
      'releaseDestinationLock',
    ]);
    const addedPath = `${IMAGES}/web01-vdb.qcow2`;
    const partial = expect.stringMatching(/^\/var\/lib\/libvirt\/images\/web01-vdb\.qcow2\.kvm-clone-\w+\.part$/);
    const { activities } = run;
    expect(activities.inputOf('prepareDisks').disks).toEqual([{ path: partial, size: 32 * MiB }]);
    expect(activities.inputsOf('syncRange').map(({ mode, destinationPath }) => ({ mode, destinationPath }))).toEqual([
      { mode: 'delta', destinationPath: targetPath },
      { mode: 'full', destinationPath: partial },
    ]);
    expect(activities.inputOf(syncTargetStep.renameAddedDisks).renames).toEqual([{ from: partial, to: addedPath }]);
    expect(activities.inputOf(syncTargetStep.redefineTarget)).toMatchObject({
      rewrite: { diskPaths: { vda: targetPath, vdb: addedPath } },
      addedFiles: [addedPath],
    });
    expect(result.files).toMatchObject([
      { target: 'vda', action: 'updated', changeTracking: 'block-hash' },
      { target: 'vdb', action: 'added', changeTracking: 'full-copy', destinationPath: addedPath },
    ]);
  });

  it("syncs each layer of a disk's backing chain and links them again on the target", async () => {
    const backing = { ...diskFile('vda', `${IMAGES}/base.qcow2`, 32 * MiB, 'backing'), depth: 1 };
    const targetBacking = { ...backing, sourcePath: `${IMAGES}/web01-vda-backing1.qcow2` };
    const run = await env().start(
      'syncVM',
      { ...sync, parallel: 1 },
      {
        inspectSource: () => sourceInspection({}, [sourceDisk, backing]),
        inspectTarget: () => targetInspection({}, [diskFile('vda', targetPath), targetBacking]),
      },
    );
    await run.result();

    const names = run.activities.names();
    expect(names.slice(names.lastIndexOf('verifyFile') + 1)).toEqual([
      syncTargetStep.relinkBackingChains,
      syncTargetStep.redefineTarget,
      'releaseDestinationLock',
    ]);
    expect(run.activities.inputsOf('syncRange').map((input) => input.destinationPath)).toEqual([
      targetPath,
      targetBacking.sourcePath,
    ]);
    expect(run.activities.inputOf(syncTargetStep.relinkBackingChains).chains).toEqual([
      {
        layers: [
          { path: targetPath, format: 'qcow2' },
          { path: targetBacking.sourcePath, format: 'qcow2' },
        ],
      },
    ]);
  });

  it('keeps the file of a disk gone from the source, detaches it and says so', async () => {
    const run = await env().start('syncVM', sync, {
      inspectTarget: () =>
        targetInspection({}, [diskFile('vda', targetPath), diskFile('vdb', `${IMAGES}/web01-vdb.qcow2`)]),
    });
    const result = await run.result();

    expect(run.activities.inputsOf('syncRange').map((input) => input.destinationPath)).toEqual([targetPath]);
    expect(run.activities.names()).not.toContain(syncTargetStep.removeAddedDisks);
    expect(run.activities.inputOf(syncTargetStep.redefineTarget).rewrite.diskPaths).toEqual({ vda: targetPath });
    expect(result.detachedDisks).toEqual(['vdb']);
    expect(result.warnings).toEqual([
      "disk vdb is gone from the source; it is detached from 'web01' and its file kept",
    ]);
  });

  it('resizes a target file to its source as measured after the freeze', async () => {
    const run = await env().start('syncVM', sync, {
      inspectSource: running,
      freezeSource: () => ({
        consistency: 'crash-consistent',
        frozen: true,
        warnings: [],
        sizes: { [sourcePath]: 80 * MiB },
      }),
    });
    const result = await run.result();

    const names = run.activities.names();
    expect(names.slice(names.indexOf('freezeSource'), names.indexOf('syncRange') + 1)).toEqual([
      'freezeSource',
      'resizeFiles',
      'syncRange',
    ]);
    expect(run.activities.inputOf('resizeFiles').files).toEqual([{ path: targetPath, size: 80 * MiB }]);
    expect(run.activities.inputOf('syncRange').range).toEqual({ start: 0, length: 80 * MiB });
    expect(result.files).toMatchObject([{ action: 'resized' }]);
  });

  it('copies again the tiles of a file whose whole digest differs after the sync, then succeeds', async () => {
    const run = await env().start('syncVM', sync, {
      verifyFile: (_, call) => (call === 0 ? MISMATCH : digests()),
      verifyRange: (_, call) => (call === 1 ? MISMATCH : digests()),
    });
    const result = await run.result();

    const names = run.activities.names();
    expect(names.slice(names.indexOf('syncRange'), names.lastIndexOf('verifyFile') + 1)).toEqual([
      'syncRange',
      'verifyRange',
      'verifyFile',
      'verifyRange',
      'syncRange',
      'verifyRange',
      'verifyFile',
    ]);
    expect(run.activities.inputsOf('syncRange').map((input) => input.mode)).toEqual(['delta', 'full']);
    expect(result.rangesRecopied).toBe(1);
    expect(result.warnings).toEqual([
      `${targetPath} still differed from its source after the sync; the tiles that differ were copied again`,
      `range 0+${64 * MiB} of ${sourcePath} differed after the sync and was copied again`,
    ]);
  });

  it('completes a sync that was interrupted, and says so', async () => {
    const run = await env().start('syncVM', sync, {
      inspectTarget: () => targetInspection({ unfinishedOperation: 'sync-web01-earlier' }),
    });
    const result = await run.result();

    expect(result.completedUnfinished).toBe('sync-web01-earlier');
    expect(result.warnings).toEqual(['completing the interrupted sync sync-web01-earlier']);
  });
});
