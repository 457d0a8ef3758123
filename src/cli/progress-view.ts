import { formatBytes } from '../domain/sizes';
import type { OperationProgress } from '../workflows/progress';

/** One progress report with the speed and time left measured from the ones before it. */
export interface ProgressSnapshot {
  progress: OperationProgress;
  bytesPerSecond: number;
  etaSeconds?: number;
}

export interface DiskProgressDocument {
  target: string;
  phase: string;
  percent: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface ProgressDocument {
  type: 'progress';
  operationId: string;
  phase: OperationProgress['phase'];
  percent: number;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaSeconds?: number;
  disks: DiskProgressDocument[];
  /** A migration's pass under way. */
  pass?: { kind: string; operationId: string };
}

export function percentOf(done: number, total: number): number {
  return total === 0 ? 0 : Math.min(100, Math.floor((done / total) * 100));
}

/** A progress report for scripts: one JSON line of `--output json`. */
export function progressDocument(operationId: string, snapshot: ProgressSnapshot): ProgressDocument {
  const { progress } = snapshot;
  return {
    type: 'progress',
    operationId,
    phase: progress.phase,
    percent: percentOf(progress.bytesDone, progress.bytesTotal),
    bytesDone: progress.bytesDone,
    bytesTotal: progress.bytesTotal,
    bytesPerSecond: snapshot.bytesPerSecond,
    ...(snapshot.etaSeconds !== undefined ? { etaSeconds: snapshot.etaSeconds } : {}),
    disks: progress.disks.map((disk) => ({
      target: disk.target,
      phase: disk.phase,
      percent: percentOf(disk.bytesDone, disk.bytesTotal),
      bytesDone: disk.bytesDone,
      bytesTotal: disk.bytesTotal,
    })),
    ...(progress.pass ? { pass: progress.pass } : {}),
  };
}

/** `75` → `1:15`, `3725` → `1:02:05`. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function bar(percent: number, width: number): string {
  const filled = Math.round((percent / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function bytesOf(done: number, total: number): string {
  return `${formatBytes(done)} / ${formatBytes(total)}`;
}

/**
 * The terminal view: a bar per disk, then the overall bar with speed and time left.
 * Before the copy starts there are no disks yet, and only the phase shows.
 */
export function progressLines(snapshot: ProgressSnapshot, barWidth = 24): string[] {
  const { progress } = snapshot;
  const labelWidth = Math.max(5, ...progress.disks.map((disk) => disk.target.length));
  const lines = progress.disks.map((disk) => {
    const percent = percentOf(disk.bytesDone, disk.bytesTotal);
    return `  ${disk.target.padEnd(labelWidth)} ${bar(percent, barWidth)} ${String(percent).padStart(3)}%  ${bytesOf(disk.bytesDone, disk.bytesTotal).padEnd(21)} ${disk.phase}`;
  });
  const percent = percentOf(progress.bytesDone, progress.bytesTotal);
  const speed = `${formatBytes(snapshot.bytesPerSecond)}/s`;
  const eta = snapshot.etaSeconds === undefined ? '' : `  ETA ${formatDuration(snapshot.etaSeconds)}`;
  lines.push(
    `  ${'total'.padEnd(labelWidth)} ${bar(percent, barWidth)} ${String(percent).padStart(3)}%  ${bytesOf(progress.bytesDone, progress.bytesTotal).padEnd(21)} ${speed}${eta}  (${progress.pass ? `${progress.pass.kind} pass, ` : ''}${progress.phase})`,
  );
  return lines;
}
