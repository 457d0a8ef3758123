import { formatBytes } from '../domain/sizes';
import type { OperationProgress } from '../workflows/progress';

/** One progress report: a line on a terminal, a JSON line for scripts. */
export function renderProgress(progress: OperationProgress, rate: number, format: 'text' | 'json'): string {
  const percent = progress.bytesTotal === 0 ? 0 : Math.floor((progress.bytesDone / progress.bytesTotal) * 100);
  const etaSeconds = rate > 0 ? Math.ceil((progress.bytesTotal - progress.bytesDone) / rate) : undefined;
  if (format === 'json') {
    return JSON.stringify({ type: 'progress', phase: progress.phase, percent, bytesDone: progress.bytesDone, bytesTotal: progress.bytesTotal, bytesPerSecond: Math.round(rate), etaSeconds });
  }
  const width = 30;
  const filled = Math.round((percent / 100) * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const eta = etaSeconds === undefined ? '' : ` ETA ${etaSeconds}s`;
  return `[${bar}] ${String(percent).padStart(3)}% ${formatBytes(progress.bytesDone)} / ${formatBytes(progress.bytesTotal)} ${formatBytes(rate)}/s${eta} (${progress.phase})`;
}
