/**
 * migrateVM in live mode against stub activities: the destination checked as a clone's,
 * empty images made for libvirt to mirror into, libvirt's migration as one activity, then
 * the source retired; a failure before the guest runs on the destination removes the
 * images and leaves the source alone.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors';
import { cutoverSignal, migrationQuery } from '../../src/workflows';
import { eventually } from '../helpers/cli';
import { activityFailure } from '../helpers/stub-activities';
import { useStubWorker } from '../helpers/stub-worker';
import {
  DESTINATION,
  GiB,
  IMAGES,
  MiB,
  SOURCE,
  SOURCE_UUID,
  VM,
  diskFile,
  healthyHosts,
  sourceDisk,
  sourceInspection,
} from './stub-vm';

const env = useStubWorker(healthyHosts);
const migration = { source: SOURCE, destination: DESTINATION, vmName: VM, mode: 'live' as const };
const running = {
  inspectSource: () => sourceInspection({ state: 'running' }),
  // The source runs; the destination has no domain of that name.
  recheckSource: ({ source }: { source: unknown }) =>
    source === SOURCE ? { state: 'running' as const, uuid: SOURCE_UUID } : {},
};

describe.concurrent('migrateVM in live mode', () => {
  it("checks the destination, makes empty images, runs libvirt's migration, then retires the source", async () => {
    const run = await env().start('migrateVM', migration, running);
    const result = await run.result();

    expect(run.activities.names()).toEqual([
      'recheckSource',
      'acquireDestinationLock',
      'inspectSource',
      'checkDestination',
      'prepareDisks',
      'liveMigrate',
      'releaseDestinationLock',
      'removeCheckpoints',
      'retireSource',
    ]);
    // Images of the disk's format and virtual size, not sparse files of its file size.
    expect(run.activities.inputOf('prepareDisks')).toEqual({
      destination: DESTINATION,
      disks: [{ path: `${IMAGES}/${VM}-vda.qcow2`, size: 20 * GiB, format: 'qcow2' }],
    });
    // The guest keeps its UUID and MACs: only paths and log files change.
    const live = run.activities.inputOf('liveMigrate');
    expect(live).toMatchObject({
      source: SOURCE,
      destination: DESTINATION,
      vmName: VM,
      newName: VM,
      uuid: SOURCE_UUID,
    });
    expect(live.rewrite).toMatchObject({ uuid: SOURCE_UUID, diskPaths: { vda: `${IMAGES}/${VM}-vda.qcow2` } });
    expect(live.rewrite).not.toHaveProperty('macAddresses');
    expect(run.activities.inputOf('checkDestination')).toMatchObject({ start: true });
    expect(run.activities.inputOf('retireSource')).toMatchObject({ uuid: SOURCE_UUID, keep: false });
    expect(result).toMatchObject({
      mode: 'live',
      cutover: 'live',
      consistency: 'live',
      downtimeSeconds: 0.25,
      bytesTransferred: 96 * MiB,
      passes: [{ kind: 'live', operationId: run.handle.workflowId, bytesTransferred: 96 * MiB, seconds: 3 }],
    });
    expect((await run.handle.query(migrationQuery)).phase).toBe('done');
  });

  it("removes the images and leaves the source alone when libvirt's migration fails", async () => {
    const run = await env().start('migrateVM', migration, {
      ...running,
      liveMigrate: () => {
        throw activityFailure(ErrorCode.MIGRATION_ERROR, "libvirt's live migration of 'web01' failed: no route");
      },
    });
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'MIGRATION_ERROR', details: [{ code: ErrorCode.MIGRATION_ERROR }] });
    expect(failure.message).toContain('no route');
    const names = run.activities.names();
    expect(names.slice(names.indexOf('liveMigrate') + 1)).toEqual([
      'recheckSource',
      'removeClone',
      'releaseDestinationLock',
    ]);
    expect(run.activities.inputsOf('recheckSource').at(-1)).toMatchObject({ source: DESTINATION, vmName: VM });
    expect(run.activities.inputOf('removeClone')).toEqual({
      destination: DESTINATION,
      paths: [`${IMAGES}/${VM}-vda.qcow2`],
      directories: [],
    });
    expect(names).not.toContain('retireSource');
  });

  it("keeps the images when the destination holds a domain with the source's UUID after a failure, and says so", async () => {
    const run = await env().start('migrateVM', migration, {
      ...running,
      recheckSource: ({ source }) => ({ state: source === SOURCE ? 'running' : 'paused', uuid: SOURCE_UUID }),
      liveMigrate: () => {
        throw activityFailure(ErrorCode.MIGRATION_ERROR, "libvirt's live migration of 'web01' failed: lost");
      },
    });
    const failure = await run.failure();

    expect(failure.message).toContain("'web01' with the source's UUID is defined on dst (paused)");
    expect(run.activities.names()).not.toContain('removeClone');
  });

  it('refuses a shut-off source with 1206 before it changes anything', async () => {
    const run = await env().start('migrateVM', migration);
    const failure = await run.failure();

    expect(failure).toMatchObject({ details: [{ code: ErrorCode.MIGRATION_ERROR }] });
    expect(failure.message).toContain('live mode moves a running VM; use warm mode');
    expect(run.activities.names()).toEqual(['recheckSource']);
  });

  it('refuses a VM with NVRAM with 1206, naming it, before any image is made', async () => {
    const files = [sourceDisk, diskFile('nvram', '/var/lib/libvirt/qemu/nvram/web01_VARS.fd', 128 * 1024, 'nvram')];
    const run = await env().start('migrateVM', migration, {
      ...running,
      inspectSource: () => sourceInspection({ state: 'running' }, files),
    });
    const failure = await run.failure();

    expect(failure).toMatchObject({ details: [{ code: ErrorCode.MIGRATION_ERROR }] });
    expect(failure.message).toContain('libvirt does not carry its NVRAM in a storage migration; use warm mode');
    expect(run.activities.names()).not.toContain('prepareDisks');
    expect(run.activities.names().at(-1)).toBe('releaseDestinationLock');
  });

  it('waits for a cutover signal when held, then migrates', async () => {
    const run = await env().start('migrateVM', { ...migration, holdCutover: true }, running);
    await eventually(
      async () => (await run.handle.query(migrationQuery)).phase === 'waiting',
      'the waiting phase',
      15_000,
    );
    expect(run.activities.names()).not.toContain('liveMigrate');
    await run.handle.signal(cutoverSignal);
    expect(await run.result()).toMatchObject({ mode: 'live' });
  });
});
