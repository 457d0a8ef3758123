import { describe, expect, it } from 'vitest';
import { progressStyle, streamingFormat, TerminalBars } from '../../../src/cli/progress-follow';
import { formatDuration, percentOf, progressDocument, progressLines } from '../../../src/cli/progress-view';
import { RateMeter } from '../../../src/cli/rate-meter';
import type { OperationProgress } from '../../../src/workflows/progress';

const MiB = 1024 * 1024;
const progress: OperationProgress = {
  phase: 'copying',
  bytesTotal: 300 * MiB,
  bytesDone: 150 * MiB,
  disks: [
    { target: 'vda', bytesTotal: 100 * MiB, bytesDone: 100 * MiB, phase: 'copying' },
    { target: 'vdb', bytesTotal: 200 * MiB, bytesDone: 50 * MiB, phase: 'copying' },
  ],
};

describe('progressLines', () => {
  it('draws a bar per disk and an overall bar with speed and ETA', () => {
    const lines = progressLines({ progress, bytesPerSecond: 10 * MiB, etaSeconds: 15 }, 10);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ {2}vda {3}\[#{10}\] 100% {2}100 MiB \/ 100 MiB +copying$/);
    expect(lines[1]).toMatch(/vdb {3}\[###-------\] {2}25%/);
    expect(lines[2]).toMatch(
      /total \[#####-----\] {2}50% {2}150 MiB \/ 300 MiB +10\.0 MiB\/s {2}ETA 0:15 {2}\(copying\)$/,
    );
  });

  it("names a migration's pass, whose progress it shows, with the phase", () => {
    const pass = { kind: 'sync' as const, operationId: 'migrate:a:vm-2-sync' };
    expect(progressLines({ progress: { ...progress, pass }, bytesPerSecond: 0 }).at(-1)).toMatch(
      /\(sync pass, copying\)$/,
    );
    expect(progressDocument('migrate:a:vm', { progress: { ...progress, pass }, bytesPerSecond: 0 }).pass).toEqual(pass);
    expect(progressDocument('clone:a:vm:b', { progress, bytesPerSecond: 0 })).not.toHaveProperty('pass');
  });

  it('shows only the phase before the disks are known', () => {
    expect(
      progressLines({ progress: { phase: 'preflight', disks: [], bytesTotal: 0, bytesDone: 0 }, bytesPerSecond: 0 }),
    ).toEqual([expect.stringMatching(/total .* 0%.*\(preflight\)$/)]);
  });
});

describe('progressDocument', () => {
  it('is the JSON line scripts read, with per-disk percentages', () => {
    expect(progressDocument('clone:a:vm:b', { progress, bytesPerSecond: 5, etaSeconds: 9 })).toEqual({
      type: 'progress',
      operationId: 'clone:a:vm:b',
      phase: 'copying',
      percent: 50,
      bytesDone: 150 * MiB,
      bytesTotal: 300 * MiB,
      bytesPerSecond: 5,
      etaSeconds: 9,
      disks: [
        { target: 'vda', phase: 'copying', percent: 100, bytesDone: 100 * MiB, bytesTotal: 100 * MiB },
        { target: 'vdb', phase: 'copying', percent: 25, bytesDone: 50 * MiB, bytesTotal: 200 * MiB },
      ],
    });
  });
});

describe('helpers', () => {
  it('formats durations and percentages', () => {
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(percentOf(1, 0)).toBe(0);
    expect(percentOf(2, 1)).toBe(100);
  });

  it('measures a smoothed rate and the time left', () => {
    const meter = new RateMeter(0.5);
    expect(meter.sample(0, 1000, 0)).toEqual({ bytesPerSecond: 0 });
    expect(meter.sample(100, 1000, 1000)).toEqual({ bytesPerSecond: 100, etaSeconds: 9 });
    expect(meter.sample(400, 1000, 2000)).toEqual({ bytesPerSecond: 200, etaSeconds: 3 });
  });

  it('streams JSON into a pipe, bars to a terminal, nothing when quiet', () => {
    expect(streamingFormat('text', false)).toBe('json');
    expect(streamingFormat('text', true)).toBe('text');
    expect(streamingFormat('yaml', false)).toBe('yaml');
    expect(progressStyle({ format: 'json', quiet: false, stderrIsTty: true })).toBe('json');
    expect(progressStyle({ format: 'text', quiet: false, stderrIsTty: true })).toBe('bars');
    expect(progressStyle({ format: 'yaml', quiet: false, stderrIsTty: false })).toBe('none');
    expect(progressStyle({ format: 'json', quiet: true, stderrIsTty: true })).toBe('none');
  });
});

describe('TerminalBars', () => {
  it('redraws its lines in place: back up over the last frame, each line cleared and cut to the terminal width', () => {
    const written: string[] = [];
    const stream = { columns: 40, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const bars = new TerminalBars(stream);
    bars.update({ progress, bytesPerSecond: 10 * MiB, etaSeconds: 15 });
    bars.update({ progress: { ...progress, bytesDone: 300 * MiB }, bytesPerSecond: 10 * MiB, etaSeconds: 0 });
    expect(written).toHaveLength(2);
    expect(written[0]!.startsWith('\r')).toBe(true);
    expect(written[1]!.startsWith('\u001b[3A\r')).toBe(true);
    const clearLine = '\u001b[K';
    for (const [index, frame] of written.entries()) {
      const body = index === 0 ? frame : frame.slice('\u001b[3A'.length);
      const lines = body.slice(0, -1).split('\n');
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        expect(line.startsWith('\r') && line.endsWith(clearLine)).toBe(true);
        expect(line.length - 1 - clearLine.length).toBeLessThanOrEqual(39);
      }
    }
    expect(written[1]).toContain('total [');
    // After finish, the next frame starts where the cursor is: nothing is drawn over.
    bars.finish();
    bars.update({ progress, bytesPerSecond: 0 });
    expect(written[2]!.startsWith('\r')).toBe(true);
  });
});
