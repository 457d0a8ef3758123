import { describe, expect, it } from 'vitest';
import { ProgressHighWater } from '../../../src/client/progress-high-water';
import type { OperationProgress } from '../../../src/workflows/progress';

function progress(bytesDone: number, vda: number, bytesTotal = 100): OperationProgress {
  return {
    phase: 'copying',
    bytesDone,
    bytesTotal,
    disks: [{ target: 'vda', bytesDone: vda, bytesTotal, phase: 'copying' }],
  };
}

describe('ProgressHighWater', () => {
  it('shows the highest count seen when a poll falls into the gap after a range completes', () => {
    const highWater = new ProgressHighWater();
    expect(highWater.apply(progress(60, 60)).bytesDone).toBe(60);
    const dipped = highWater.apply(progress(40, 40));
    expect(dipped.bytesDone).toBe(60);
    expect(dipped.disks[0]!.bytesDone).toBe(60);
    expect(highWater.apply(progress(80, 80)).bytesDone).toBe(80);
  });

  it("counts a migration's next pass from zero, and holds each pass's highest count", () => {
    const highWater = new ProgressHighWater();
    const pass = (kind: 'clone' | 'sync', n: number) => ({ kind, operationId: `migrate:a:vm-${n}-${kind}` });
    expect(highWater.apply({ ...progress(90, 90), pass: pass('clone', 1) }).bytesDone).toBe(90);
    const next = highWater.apply({ ...progress(10, 10), pass: pass('sync', 2) });
    expect(next.bytesDone).toBe(10);
    expect(next.disks[0]!.bytesDone).toBe(10);
    expect(highWater.apply({ ...progress(5, 5), pass: pass('sync', 2) }).bytesDone).toBe(10);
  });

  it('never reports more than the total', () => {
    expect(new ProgressHighWater().apply(progress(130, 120)).disks[0]!.bytesDone).toBe(100);
  });
});
