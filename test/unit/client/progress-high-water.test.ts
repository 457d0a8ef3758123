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

  it('never reports more than the total', () => {
    expect(new ProgressHighWater().apply(progress(130, 120)).disks[0]!.bytesDone).toBe(100);
  });
});
