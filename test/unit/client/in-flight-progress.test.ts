import { describe, expect, it } from 'vitest';
import { withInFlightBytes } from '../../../src/client/in-flight-progress';
import { operationKind, operationsQuery } from '../../../src/client/operations';
import type { OperationProgress } from '../../../src/workflows/progress';

const base: OperationProgress = {
  phase: 'copying',
  bytesTotal: 300,
  bytesDone: 100,
  disks: [
    { target: 'vda', bytesTotal: 100, bytesDone: 100, phase: 'copying' },
    { target: 'vdb', bytesTotal: 200, bytesDone: 0, phase: 'copying' },
  ],
};

describe('withInFlightBytes', () => {
  it('counts running transfers toward the only disk that still has ranges to copy', () => {
    const progress = withInFlightBytes(base, [{ bytesDone: 50 }]);
    expect(progress.bytesDone).toBe(150);
    expect(progress.disks.map((disk) => disk.bytesDone)).toEqual([100, 50]);
    expect(base.disks[1]!.bytesDone).toBe(0);
  });

  it('moves only the total when the disk is ambiguous, unless the heartbeat names it', () => {
    const two: OperationProgress = {
      ...base,
      bytesDone: 0,
      disks: base.disks.map((disk) => ({ ...disk, bytesDone: 0 })),
    };
    expect(withInFlightBytes(two, [{ bytesDone: 10 }]).disks.map((disk) => disk.bytesDone)).toEqual([0, 0]);
    expect(withInFlightBytes(two, [{ bytesDone: 10, target: 'vda' }]).disks.map((disk) => disk.bytesDone)).toEqual([
      10, 0,
    ]);
  });

  it('never reports more than the total', () => {
    expect(withInFlightBytes(base, [{ bytesDone: 500 }]).bytesDone).toBe(300);
  });
});

describe('operationsQuery', () => {
  it('finds kvm-clone workflows on one task queue, running ones unless all', () => {
    expect(operationsQuery('kvm-clone', 'active')).toBe(
      "WorkflowType IN ('cloneVM', 'syncVM', 'scheduledCloneVM', 'migrateVM') AND TaskQueue = 'kvm-clone' AND ExecutionStatus = 'Running'",
    );
    expect(operationsQuery("it's", 'all')).toBe(
      "WorkflowType IN ('cloneVM', 'syncVM', 'scheduledCloneVM', 'migrateVM') AND TaskQueue = 'it\\'s'",
    );
    expect(operationKind('cloneVM')).toBe('clone');
    expect(operationKind('syncVM')).toBe('sync');
    expect(operationKind('scheduledCloneVM')).toBe('clone');
    expect(operationKind('migrateVM')).toBe('migrate');
    expect(operationKind('other')).toBe('other');
  });
});
