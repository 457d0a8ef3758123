/**
 * migrateVM against stub activities: its passes (child clone and syncs), the cutover, and
 * what each failure, cancellation or signal leaves: the source resumed and the copy
 * removed before the copy runs, nothing undone after.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors';
import { checkpointPrefix } from '../../src/domain/change-tracking';
import { cutoverSignal, migrationQuery, progressQuery } from '../../src/workflows';
import { eventually } from '../helpers/cli';
import { activityFailure } from '../helpers/stub-activities';
import { useStubWorker, type StubbedRun } from '../helpers/stub-worker';
import { DESTINATION, SOURCE, SOURCE_UUID, VM, healthyHosts, sourceInspection } from './stub-vm';

const env = useStubWorker(healthyHosts);
const migration = { source: SOURCE, destination: DESTINATION, vmName: VM };
const running = {
  inspectSource: () => sourceInspection({ state: 'running' }),
  recheckSource: () => ({ state: 'running' as const, uuid: SOURCE_UUID }),
};
const cleanupOfTheCopy = ['removeCheckpoints', 'removeDefinedClone', 'removeClone'];

/** The calls from the first call to `from` on. */
function callsFrom(names: string[], from: string): string[] {
  return names.slice(names.indexOf(from));
}

/** The calls of the undo steps and after: from the last call to `from`'s successor on. */
function after(names: string[], from: string): string[] {
  return names.slice(names.lastIndexOf(from) + 1);
}

async function phaseOf(run: StubbedRun<unknown>): Promise<string> {
  return (await run.handle.query(migrationQuery)).phase;
}

describe.concurrent('migrateVM', () => {
  it('clones with the source UUID and MACs, syncs until a sync is short, pauses, syncs the rest, starts the copy, then retires the source', async () => {
    const run = await env().start('migrateVM', migration, running);
    const result = await run.result();

    expect(result.passes.map((pass) => pass.kind)).toEqual(['clone', 'sync', 'final']);
    expect(result.passes.map((pass) => pass.operationId)).toEqual([
      `${run.handle.workflowId}-1-clone`,
      `${run.handle.workflowId}-2-sync`,
      `${run.handle.workflowId}-3-final`,
    ]);
    expect(result).toMatchObject({ newName: VM, downtimeSeconds: 2.5, cutover: 'pause', sourceKept: false });
    expect(result.bytesTransferred).toBe(result.passes.reduce((sum, pass) => sum + pass.bytesTransferred, 0));
    // The copy is the source itself: same UUID, same MACs, and it is not started by the clone.
    expect(run.activities.inputOf('defineClone')).toMatchObject({ start: false });
    expect(JSON.stringify(run.activities.inputOf('defineClone').rewrite)).toContain(SOURCE_UUID);
    expect(JSON.stringify(run.activities.inputOf('defineClone').rewrite)).not.toContain('macAddresses');
    // Checkpoint syncs: each creates a checkpoint before its freeze.
    expect(run.activities.inputsOf('createCheckpoint')).toHaveLength(2);
    const cutover = callsFrom(run.activities.names(), 'pauseSource');
    expect(cutover[0]).toBe('pauseSource');
    expect(cutover.slice(-3)).toEqual(['startMigratedVm', 'removeCheckpoints', 'retireSource']);
    expect(cutover).toContain('redefineTarget');
    expect(run.activities.names()).not.toContain('resumeSource');
    expect(run.activities.inputsOf('removeCheckpoints').at(-1)).toMatchObject({
      prefix: checkpointPrefix(SOURCE_UUID),
      keep: [],
    });
    expect(run.activities.inputOf('retireSource')).toEqual({
      source: SOURCE,
      vmName: VM,
      uuid: SOURCE_UUID,
      keep: false,
      mustBeShutOff: false,
    });
    expect(await phaseOf(run)).toBe('done');
    expect(await run.handle.query(progressQuery)).not.toHaveProperty('pass');
  });

  it("names the pass under way in its progress, so a follower reads that child's", async () => {
    const run = await env().start('migrateVM', { ...migration, holdCutover: true }, running);
    await eventually(async () => (await phaseOf(run)) === 'waiting', 'the waiting phase', 15_000);
    await run.handle.signal(cutoverSignal);
    await run.activities.waitForCall('pauseSource');
    await eventually(
      async () => (await run.handle.query(progressQuery)).pass?.kind === 'final',
      'the final pass',
      15_000,
    );
    expect((await run.handle.query(progressQuery)).pass).toEqual({
      kind: 'final',
      operationId: `${run.handle.workflowId}-3-final`,
    });
    await run.result();
  });

  it('resumes the source and removes the copy and the checkpoints when the final sync fails; the copy never starts', async () => {
    const run = await env().start('migrateVM', migration, {
      ...running,
      redefineTarget: (_input, call) => {
        if (call === 1) throw activityFailure(ErrorCode.LIBVIRT_ERROR, 'virsh define failed');
      },
    });
    const failure = await run.failure();

    expect(failure).toMatchObject({ details: [{ code: ErrorCode.LIBVIRT_ERROR }] });
    expect(run.activities.names()).not.toContain('startMigratedVm');
    expect(run.activities.names()).not.toContain('stopMigratedVm');
    // The sync's own cleanup first (its new checkpoint), then the migration's, newest first.
    expect(callsFrom(run.activities.names(), 'resumeSource')).toEqual(['resumeSource', ...cleanupOfTheCopy]);
    expect(run.activities.inputOf('resumeSource')).toMatchObject({ uuid: SOURCE_UUID, thaw: false });
    expect(run.activities.inputOf('removeDefinedClone')).toEqual({
      destination: DESTINATION,
      vmName: VM,
      uuid: SOURCE_UUID,
    });
    expect(await phaseOf(run)).toBe('failed');
  });

  it('stops the copy before it resumes the source when the start fails, so the two never run at once', async () => {
    const run = await env().start('migrateVM', migration, {
      ...running,
      pauseSource: () => ({ pausedAt: 1_000_000, guestFrozen: true, warnings: [] }),
      startMigratedVm: () => {
        throw activityFailure(
          ErrorCode.MIGRATION_ERROR,
          "'web01' did not stay running after its start: it is shut off",
        );
      },
    });
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'MIGRATION_ERROR', details: [{ code: ErrorCode.MIGRATION_ERROR }] });
    expect(after(run.activities.names(), 'startMigratedVm')).toEqual([
      'stopMigratedVm',
      'resumeSource',
      ...cleanupOfTheCopy,
    ]);
    expect(run.activities.inputOf('resumeSource')).toMatchObject({ thaw: true });
  });

  it('undoes nothing once the copy runs: a source that cannot be retired is reported paused, with 1206', async () => {
    const run = await env().start('migrateVM', migration, {
      ...running,
      retireSource: () => {
        throw activityFailure(ErrorCode.LIBVIRT_ERROR, 'virsh undefine failed');
      },
    });
    const failure = await run.failure();

    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'MIGRATION_ERROR', details: [{ code: ErrorCode.MIGRATION_ERROR }] });
    expect(failure.message).toMatch(
      /'web01' runs on .*could not be retired \(virsh undefine failed\): it is stopped there/,
    );
    expect(after(run.activities.names(), 'retireSource')).toEqual([]);
  });

  it('a cancel once the copy runs does not stop the source being retired, and undoes nothing', async () => {
    const run = await env().start('migrateVM', migration, {
      ...running,
      // The migration's own removal of its checkpoints (keep nothing) is slow: the cancel lands in it.
      removeCheckpoints: ({ keep }) => (keep.length === 0 ? sleep(1500).then(() => []) : []),
    });
    await run.activities.waitForCall('startMigratedVm');
    await run.activities.waitForCall('removeCheckpoints', run.activities.inputsOf('removeCheckpoints').length + 1);
    await run.handle.cancel();
    const result = await run.result();

    expect(result.passes.at(-1)!.kind).toBe('final');
    expect(after(run.activities.names(), 'startMigratedVm')).toEqual(['removeCheckpoints', 'retireSource']);
    expect(run.activities.names()).not.toContain('resumeSource');
  });

  it('gives up with 1206 when syncs stop getting shorter above the downtime allowed, leaving the source as it was', async () => {
    const run = await env().start(
      'migrateVM',
      { ...migration, maxDowntime: 1, maxPasses: 5 },
      {
        ...running,
        // Each sync takes over a second and sends as much as the one before.
        redefineTarget: () => sleep(1100).then(() => undefined),
      },
    );
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'MIGRATION_ERROR', details: [{ code: ErrorCode.MIGRATION_ERROR }] });
    expect(failure.message).toMatch(
      /did not converge: the copy stopped converging .* more than the 1 s of downtime allowed/,
    );
    expect(run.activities.inputsOf('redefineTarget')).toHaveLength(2);
    expect(run.activities.names()).not.toContain('pauseSource');
    expect(
      run.activities
        .names()
        .filter((name) => name !== 'releaseDestinationLock')
        .slice(-3),
    ).toEqual(cleanupOfTheCopy);
  });

  it('holds the cutover, keeping the copy in step, until a cutover signal', async () => {
    const run = await env().start('migrateVM', { ...migration, holdCutover: true, syncInterval: 5 }, running);
    await eventually(async () => (await phaseOf(run)) === 'waiting', 'the waiting phase', 15_000);
    const waiting = await run.handle.query(migrationQuery);
    expect(waiting).toMatchObject({ held: true, maxDowntimeSeconds: 10 });
    expect(waiting.estimatedDowntimeSeconds).toBeGreaterThanOrEqual(0);
    expect(run.activities.names()).not.toContain('pauseSource');
    // A malformed time is ignored: the hold stays.
    await run.handle.signal(cutoverSignal, { at: 'tomorrow' });
    await sleep(300);
    expect(await run.handle.query(migrationQuery)).toMatchObject({ held: true, phase: 'waiting' });
    await run.handle.signal(cutoverSignal);
    const result = await run.result();

    expect(result.passes.at(-1)!.kind).toBe('final');
    expect(result.warnings.join('\n')).toContain("a cutover signal's time 'tomorrow' is not an ISO 8601 time");
  });

  it('waits for cutoverAt, syncing meanwhile, then cuts over', async () => {
    const at = new Date(Date.now() + 20_000).toISOString();
    let pausedAt = 0;
    const run = await env().start(
      'migrateVM',
      { ...migration, cutoverAt: at, syncInterval: 5 },
      {
        ...running,
        pauseSource: () => {
          pausedAt = Date.now();
          return { pausedAt, guestFrozen: false, warnings: [] };
        },
      },
    );
    await eventually(async () => (await phaseOf(run)) === 'waiting', 'the waiting phase', 25_000);
    const converged = (await run.handle.query(migrationQuery)).passes.length;
    expect((await run.handle.query(migrationQuery)).cutoverAt).toBe(at);
    // While it waits, a sync every syncInterval keeps the copy in step; the source is not paused before `at`.
    await eventually(
      async () => (await run.handle.query(migrationQuery)).passes.length > converged,
      'a sync while waiting',
      15_000,
    );
    const result = await run.result();

    expect(pausedAt).toBeGreaterThanOrEqual(Date.parse(at));
    expect(result.passes.at(-1)!.kind).toBe('final');
  }, 60_000);

  it('cancelled while it holds: the source is never paused, and the copy and checkpoints are removed', async () => {
    const run = await env().start('migrateVM', { ...migration, holdCutover: true }, running);
    await eventually(async () => (await phaseOf(run)) === 'waiting', 'the waiting phase', 15_000);
    await run.handle.cancel();
    const failure = await run.failure();

    expect(failure).toBeInstanceOf(CancelledFailure);
    expect(run.activities.names()).not.toContain('pauseSource');
    expect(run.activities.names().slice(-3)).toEqual(cleanupOfTheCopy);
  });

  it('moves a shut-off VM with one copy and no downtime, and keeps the source stopped when asked', async () => {
    const run = await env().start('migrateVM', { ...migration, keepSource: true }, {});
    const result = await run.result();

    expect(result.passes.map((pass) => pass.kind)).toEqual(['clone']);
    expect(result).toMatchObject({ downtimeSeconds: 0, sourceKept: true });
    expect(run.activities.names()).not.toContain('pauseSource');
    expect(run.activities.inputOf('retireSource')).toMatchObject({ keep: true, mustBeShutOff: true });
  });

  it('removes the copy when a shut-off source was started after its copy', async () => {
    const run = await env().start('migrateVM', migration, {
      retireSource: () => {
        throw activityFailure(ErrorCode.MIGRATION_ERROR, "'web01' was started after its copy (it is running)");
      },
    });
    const failure = await run.failure();

    expect(failure).toMatchObject({ type: 'MIGRATION_ERROR' });
    expect(after(run.activities.names(), 'retireSource')).toEqual(cleanupOfTheCopy);
  });

  it('refuses an invalid input with 1007 before it touches a host', async () => {
    const run = await env().start('migrateVM', { ...migration, maxDowntime: 0 });
    const failure = await run.failure();

    expect(failure).toMatchObject({ details: [{ code: ErrorCode.VALIDATION_ERROR }] });
    expect(failure.message).toContain('maxDowntime');
    expect(run.activities.names()).toEqual([]);
  });
});
