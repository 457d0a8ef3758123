import { describe, expect, it } from 'vitest';
import type { ScheduleDetails } from '../../../src/client';
import { scheduleListText, scheduleText } from '../../../src/cli/schedule-view';

const details: ScheduleDetails = {
  name: 'web01-nightly',
  kind: 'sync',
  workflowType: 'syncVM',
  taskQueue: 'kvm-clone',
  input: { source: 'a', destination: 'b', vmName: 'web01' } as ScheduleDetails['input'],
  cron: ['0 2 * * *'],
  intervals: [],
  overlap: 'skip',
  catchupWindowSeconds: 3600,
  paused: true,
  note: 'maintenance',
  actionsTaken: 3,
  skippedOverlap: 1,
  missedCatchupWindow: 0,
  runningOperations: [],
  recentRuns: [
    {
      scheduledAt: '2025-01-30T02:00:00Z',
      startedAt: '2025-01-30T02:00:00.123Z',
      operationId: 'sync:b:web01-2025-01-30T02:00:00Z',
      runId: 'r1',
      state: 'COMPLETED',
      result: { success: true, durationSeconds: 12.34, bytesTransferred: 1024 ** 3, warnings: ['w'] },
    },
    {
      scheduledAt: '2025-01-31T02:00:00Z',
      startedAt: '2025-01-31T02:00:01.5Z',
      operationId: 'sync:b:web01-2025-01-31T02:00:00Z',
      runId: 'r2',
      state: 'FAILED',
      error: { code: 1201, codeName: 'DESTINATION_BUSY_ERROR', message: 'target is running' },
    },
    {
      scheduledAt: '2025-02-01T02:00:00Z',
      startedAt: '2025-02-01T02:00:00Z',
      operationId: 'sync:b:web01-2025-02-01T02:00:00Z',
      runId: 'r3',
      state: 'RUNNING',
    },
  ],
  nextRuns: ['2025-02-02T02:00:00Z', '2025-02-03T02:00:00Z', '2025-02-04T02:00:00Z', '2025-02-05T02:00:00Z'],
  createdAt: '2025-01-01T00:00:00Z',
};

describe('schedule views', () => {
  it('lists schedules with their state and next and last run, or says there are none', () => {
    expect(scheduleListText({ type: 'schedules', schedules: [] })).toBe('no schedules\n');
    const text = scheduleListText({
      type: 'schedules',
      schedules: [
        {
          name: 'web01-nightly',
          kind: 'sync',
          workflowType: 'syncVM',
          paused: false,
          nextRuns: ['2025-02-02T02:00:00.000Z'],
          recentRuns: [{ scheduledAt: 'x', startedAt: '2025-02-01T02:00:00.250Z', operationId: 'o', runId: 'r' }],
        },
        {
          name: 'web01-daily',
          kind: 'clone',
          workflowType: 'scheduledCloneVM',
          paused: true,
          nextRuns: [],
          recentRuns: [],
        },
      ],
    });
    expect(text.split('\n')).toEqual([
      'SCHEDULE       KIND   STATE   NEXT RUN              LAST RUN',
      'web01-nightly  sync   active  2025-02-02 02:00:00Z  2025-02-01 02:00:00Z',
      'web01-daily    clone  paused  -                     -',
      '',
    ]);
  });

  it('describes a cron schedule: policy, counters, the next three runs and each recent run with its outcome', () => {
    const lines = scheduleText(details).split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'schedule web01-nightly: sync web01 (a to b), cron 0 2 * * * (UTC)',
      'state:    paused (maintenance)',
      'overlap:  skip, catch-up window 3600 s',
      'runs:     3 taken, 1 skipped (overlap), 0 missed (catch-up window)',
      'running:  -',
      'next:     2025-02-02 02:00:00Z, 2025-02-03 02:00:00Z, 2025-02-04 02:00:00Z',
    ]);
    expect(lines[6]).toMatch(/^STARTED\s+OPERATION\s+STATE\s+OUTCOME$/);
    expect(lines[7]).toMatch(
      /^2025-01-30 02:00:00Z\s+sync:b:web01-2025-01-30T02:00:00Z\s+COMPLETED\s+1(\.0)? GiB sent in 12\.3 s, 1 warning\(s\)$/,
    );
    expect(lines[8]).toMatch(
      /^2025-01-31 02:00:01Z\s+sync:b:web01-2025-01-31T02:00:00Z\s+FAILED\s+error 1201 \(DESTINATION_BUSY_ERROR\)$/,
    );
    expect(lines[9]).toMatch(/^2025-02-01 02:00:00Z\s+sync:b:web01-2025-02-01T02:00:00Z\s+RUNNING\s+-$/);
  });

  it('describes an interval schedule that is active and running, without recent runs', () => {
    const text = scheduleText({
      ...details,
      cron: [],
      intervals: [{ everySeconds: 21600, offsetSeconds: 0 }],
      paused: false,
      note: undefined,
      runningOperations: ['sync:b:web01-x'],
      recentRuns: [],
      nextRuns: [],
    });
    expect(text).toBe(
      [
        'schedule web01-nightly: sync web01 (a to b), every 21600 s (UTC)',
        'state:    active',
        'overlap:  skip, catch-up window 3600 s',
        'runs:     3 taken, 1 skipped (overlap), 0 missed (catch-up window)',
        'running:  sync:b:web01-x',
        'next:     -',
        '',
      ].join('\n'),
    );
    expect(scheduleText({ ...details, cron: [], intervals: [] }).split('\n')[0]).toBe(
      'schedule web01-nightly: sync web01 (a to b), calendar (UTC)',
    );
  });
});
