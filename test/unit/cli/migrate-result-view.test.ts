import { describe, expect, it } from 'vitest';
import { isMigrateResult, migrateResultText } from '../../../src/cli/migrate-result-view';
import { migrationProgressLines } from '../../../src/cli/migration-progress-view';
import { operationResultText } from '../../../src/cli/operation-result-view';
import { operationStatusText } from '../../../src/cli/operation-view';
import type { MigrateResult } from '../../../src/domain/migration';

const result: MigrateResult = {
  operationId: 'migrate:a:web01',
  success: true,
  vmName: 'web01',
  newName: 'web01',
  sourceHost: 'a',
  destinationHost: 'b',
  durationSeconds: 812.4,
  warnings: ['disk vdb is raw, and dirty bitmaps need qcow2; its blocks are hashed'],
  passes: [
    { kind: 'clone', operationId: 'migrate:a:web01-1-clone', bytesTransferred: 10 * 1024 ** 3, seconds: 700.2 },
    { kind: 'sync', operationId: 'migrate:a:web01-2-sync', bytesTransferred: 300 * 1024 ** 2, seconds: 40.5 },
    { kind: 'sync', operationId: 'migrate:a:web01-3-sync', bytesTransferred: 12 * 1024 ** 2, seconds: 6.1 },
    { kind: 'final', operationId: 'migrate:a:web01-4-final', bytesTransferred: 2 * 1024 ** 2, seconds: 3.4 },
  ],
  bytesTransferred: 10 * 1024 ** 3 + 314 * 1024 ** 2,
  downtimeSeconds: 4.25,
  mode: 'warm',
  cutover: 'pause',
  guestFrozen: true,
  consistency: 'quiesced',
  sourceKept: false,
};

describe('migrateResultText', () => {
  it('shows one line per pass with its kind, bytes and seconds, then the downtime and the frozen guest', () => {
    const text = migrateResultText(result);
    expect(text).toContain('migrated web01 (a) to web01 (b) in 812.4 s');
    expect(text).toContain('in 4 passes; first copy quiesced');
    expect(text).toMatch(/^1\s+clone\s+10(\.0)? GiB\s+700\.2\s+migrate:a:web01-1-clone$/m);
    expect(text).toMatch(/^2\s+sync\s+300(\.0)? MiB\s+40\.5\s+migrate:a:web01-2-sync$/m);
    expect(text).toMatch(/^4\s+final\s+2(\.0)? MiB\s+3\.4\s+migrate:a:web01-4-final$/m);
    expect(text).toContain("downtime 4.3 s; the guest's filesystems were frozen by its agent before the pause");
    expect(text).toContain('the source on a was undefined; its disk files remain');
    expect(text).toContain('warning: disk vdb is raw');
    expect(text.trimEnd().split('\n').at(-1)).toBe('operation migrate:a:web01');
  });

  it('says when the guest was not frozen, and when the source was kept', () => {
    const text = migrateResultText({ ...result, guestFrozen: false, sourceKept: true, warnings: [] });
    expect(text).toContain("the guest's filesystems were not frozen before the pause");
    expect(text).toContain('the source on a was kept: defined, stopped, autostart off');
    expect(text).not.toContain('warning:');
  });

  it('tells a shut-off VM, moved with one copy and no cutover, from one with no downtime', () => {
    const text = migrateResultText({
      ...result,
      passes: [result.passes[0]!],
      downtimeSeconds: 0,
      guestFrozen: false,
      consistency: 'offline',
    });
    expect(text).toContain('in 1 pass; first copy offline');
    expect(text).toContain('the source was shut off: copied once, no cutover; the copy is defined, not started');
    expect(text).not.toContain('downtime');
  });

  it("shows a live migration's one pass and libvirt's downtime", () => {
    const text = migrateResultText({
      ...result,
      mode: 'live',
      cutover: 'live',
      consistency: 'live',
      passes: [{ kind: 'live', operationId: 'migrate:a:web01', bytesTransferred: 3 * 1024 ** 3, seconds: 41.2 }],
      bytesTransferred: 3 * 1024 ** 3,
      downtimeSeconds: 0.214,
    });
    expect(text).toMatch(/sent 3(\.0)? GiB \(memory and disks\) with libvirt's live migration/);
    expect(text).toMatch(/^1\s+live\s+3(\.0)? GiB\s+41\.2\s+migrate:a:web01$/m);
    expect(text).toContain("downtime 0.21 s at libvirt's switch-over");
    expect(text).not.toContain('frozen');
  });

  it('is what status prints for a finished migration, not the clone view', () => {
    expect(isMigrateResult(result)).toBe(true);
    expect(operationResultText(result)).toBe(migrateResultText(result));
    expect(
      operationStatusText({
        operationId: 'migrate:a:web01',
        runId: 'r',
        kind: 'migrate',
        workflowType: 'migrateVM',
        state: 'COMPLETED',
        startTime: '2026-12-24T01:00:00.000Z',
        closeTime: '2026-12-24T01:13:32.000Z',
        taskQueue: 'kvm-clone',
        result,
      }),
    ).toContain('downtime 4.3 s');
  });
});

describe('migrationProgressLines', () => {
  it('shows a held migration with its passes and the downtime a cutover would cost now', () => {
    const lines = migrationProgressLines({
      phase: 'waiting',
      passes: result.passes.slice(0, 3),
      estimatedDowntimeSeconds: 6.1,
      maxDowntimeSeconds: 10,
      held: true,
      cutoverAt: '2026-12-24T02:00:00Z',
    });
    expect(lines[0]).toBe(
      'migration: waiting; held until a cutover signal (kvm-clone cutover ID); cutover not before 2026-12-24 02:00:00Z',
    );
    expect(lines).toContain('estimated downtime: 6.1 s (allowed: 10 s)');
    expect(lines.some((line) => /^ {2}3\s+sync\s+12(\.0)? MiB\s+6\.1$/.test(line))).toBe(true);
  });

  it('before the first sync: no estimate, no passes', () => {
    expect(migrationProgressLines({ phase: 'copying', passes: [], maxDowntimeSeconds: 10, held: false })).toEqual([
      'migration: copying',
      'estimated downtime: not known before the first sync (allowed: 10 s)',
    ]);
  });
});
