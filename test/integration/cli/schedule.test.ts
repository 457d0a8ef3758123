import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { ScheduleDetails } from '../../../src/client';
import { ErrorCode } from '../../../src/errors';
import { errorDocument } from '../../helpers/cli-documents';
import { eventually, kvmClone } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
let env: TestEnvironment;
let dir: string;
let config: string;
let vm: LabVm;
const cloned: string[] = [];

const scheduleDocument = z.object({
  type: z.literal('schedule'),
  name: z.string(),
  kind: z.enum(['sync', 'clone']),
  workflowType: z.string(),
  taskQueue: z.string(),
  input: z.object({ source: z.unknown(), destination: z.unknown(), vmName: z.string() }).loose(),
  cron: z.array(z.string()),
  intervals: z.array(z.object({ everySeconds: z.number(), offsetSeconds: z.number() })),
  overlap: z.string(),
  catchupWindowSeconds: z.number(),
  paused: z.boolean(),
  note: z.string().optional(),
  actionsTaken: z.number(),
  skippedOverlap: z.number(),
  missedCatchupWindow: z.number(),
  runningOperations: z.array(z.string()),
  recentRuns: z.array(
    z.object({
      scheduledAt: z.iso.datetime(),
      startedAt: z.iso.datetime(),
      operationId: z.string(),
      runId: z.string(),
      state: z.string(),
      result: z
        .object({
          success: z.boolean(),
          durationSeconds: z.number(),
          bytesTransferred: z.number(),
          warnings: z.array(z.string()),
        })
        .optional(),
      error: z.object({ code: z.number(), codeName: z.string(), message: z.string() }).optional(),
    }),
  ),
  nextRuns: z.array(z.iso.datetime()),
  createdAt: z.iso.datetime(),
});

async function cli(...args: string[]) {
  return kvmClone(['-c', config, '-o', 'json', 'schedule', ...args]);
}

async function describeSchedule(name: string): Promise<ScheduleDetails> {
  return env.client.describeSchedule(name);
}

beforeAll(async () => {
  env = await startTestEnvironment(lab.aliases());
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-cli-schedule-'));
  config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    stringify({ hosts: lab.aliases(), temporal: { address: inject('temporalAddress'), taskQueue: env.taskQueue } }),
    { mode: 0o600 },
  );
  vm = await lab.makeVm('a', uniqueVmName('sched'), { dataSize: '256M', fillMib: 64 });
  await env.client.clone({ source: 'a', destination: 'b', vmName: vm.name, newName: vm.name });
  cloned.push(vm.name);
});

afterAll(async () => {
  for (const schedule of await env.client.listSchedules().catch(() => []))
    await env.client.deleteSchedule(schedule.name).catch(() => undefined);
  await env?.stop();
  if (vm) await lab.removeVm('a', vm).catch(() => undefined);
  for (const name of cloned) {
    await lab.virsh('b', 'undefine', '--domain', name).catch(() => undefined);
    await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${name}-*`).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
});

describe('kvm-clone schedule (Temporal Schedules, the real CLI binary)', () => {
  it('creates a nightly sync, runs it on trigger, describes the run and the next times, pauses and deletes it', async () => {
    const name = `nightly-${vm.name}`;
    const created = await cli('create', name, '--cron', '0 2 * * *', 'sync', 'a', 'b', vm.name, '--note', 'standby');
    expect(created.stderr).not.toContain('error');
    expect(JSON.parse(created.stdout)).toEqual({ type: 'schedule-created', name });
    expect((await cli('create', name, '--cron', '0 2 * * *', 'sync', 'a', 'b', vm.name)).code).toBe(1);

    expect(JSON.parse((await cli('trigger', name)).stdout)).toEqual({ type: 'schedule-triggered', name });
    await eventually(
      async () => (await describeSchedule(name)).recentRuns[0]?.state === 'COMPLETED',
      'the triggered sync to finish',
      120_000,
    );

    const described = scheduleDocument.parse(JSON.parse((await cli('describe', name)).stdout));
    expect(described).toMatchObject({
      kind: 'sync',
      workflowType: 'syncVM',
      cron: ['0 2 * * *'],
      overlap: 'skip',
      catchupWindowSeconds: 3600,
      paused: false,
      actionsTaken: 1,
    });
    expect(described.recentRuns).toHaveLength(1);
    expect(described.recentRuns[0]!.operationId.startsWith(`sync:b:${vm.name}-`)).toBe(true);
    expect(described.recentRuns[0]!.result?.success).toBe(true);
    expect(described.nextRuns.length).toBeGreaterThan(0);
    for (const next of described.nextRuns) expect(next).toMatch(/T02:00:00(\.000)?Z$/);
    // The run is an ordinary operation too.
    expect((await env.client.status(described.recentRuns[0]!.operationId)).kind).toBe('sync');

    const listed = JSON.parse((await cli('list')).stdout) as {
      type: string;
      schedules: { name: string; kind: string; paused: boolean }[];
    };
    expect(listed.schedules).toContainEqual(expect.objectContaining({ name, kind: 'sync', paused: false }));

    expect((await cli('pause', name, '--note', 'maintenance')).code).toBe(0);
    expect(await describeSchedule(name)).toMatchObject({ paused: true, note: 'maintenance' });
    expect((await cli('unpause', name)).code).toBe(0);
    expect((await describeSchedule(name)).paused).toBe(false);

    expect((await cli('delete', name)).code).toBe(0);
    const gone = await cli('describe', name);
    expect(gone.code).toBe(1);
    expect(errorDocument.parse(JSON.parse(gone.stdout))).toMatchObject({ code: ErrorCode.OPERATION_NOT_FOUND });
  });

  it('skips runs that fall due while a long sync runs (overlap skip), and a paused schedule starts none', async () => {
    const name = `often-${vm.name}`;
    // A full re-copy paced to several seconds, due every second.
    const created = await cli(
      'create',
      name,
      '--every',
      '1s',
      'sync',
      'a',
      'b',
      vm.name,
      '--no-delta',
      '--no-verify',
      '--bandwidth-limit',
      '8M',
    );
    expect(created.code).toBe(0);
    await eventually(
      async () => (await describeSchedule(name)).skippedOverlap >= 3,
      'due runs to be skipped as overlapping',
      60_000,
    );
    const busy = await describeSchedule(name);
    expect(busy.actionsTaken).toBe(1);
    expect(busy.runningOperations).toHaveLength(1);
    // A trigger is held to the same policy: skipped too.
    await env.client.triggerSchedule(name);

    await env.client.pauseSchedule(name);
    await eventually(
      async () => (await describeSchedule(name)).runningOperations.length === 0,
      'the running sync to finish',
      120_000,
    );
    const paused = await describeSchedule(name);
    expect(paused.paused).toBe(true);
    expect(paused.actionsTaken).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await describeSchedule(name)).actionsTaken).toBe(1);
    expect((await describeSchedule(name)).recentRuns[0]?.state).toBe('COMPLETED');
    await env.client.deleteSchedule(name);
  });

  it('a clone schedule names each copy from its start date ({date})', async () => {
    const name = `dated-${vm.name}`;
    expect(
      (
        await cli(
          'create',
          name,
          '--every',
          '1d',
          '--paused',
          'clone',
          'a',
          'b',
          vm.name,
          '--new-name',
          `${vm.name}-{date}`,
        )
      ).code,
    ).toBe(0);
    const foreign = await cli('create', `${name}-x`, '--every', '1d', 'clone', 'a', 'b', vm.name, '--no-delta');
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain('--no-delta: not an option of clone');

    await env.client.triggerSchedule(name);
    await eventually(
      async () => (await describeSchedule(name)).recentRuns[0]?.state === 'COMPLETED',
      'the scheduled clone to finish',
      120_000,
    );
    const run = (await describeSchedule(name)).recentRuns[0]!;
    const copy = `${vm.name}-${run.startedAt.slice(0, 10)}`;
    cloned.push(copy);
    expect(await lab.domainState('b', copy)).toBe('shut off');
    expect((await env.client.status(run.operationId)).kind).toBe('clone');
    await env.client.deleteSchedule(name);
  });
});
