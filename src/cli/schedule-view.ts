import type { ScheduleDetails, ScheduleSummary } from '../client';
import { formatBytes } from '../domain/sizes';
import { cellTime, table } from './table';

export interface ScheduleListDocument {
  type: 'schedules';
  schedules: ScheduleSummary[];
}

export type ScheduleDocument = { type: 'schedule' } & ScheduleDetails;

export function scheduleListText(document: ScheduleListDocument): string {
  if (document.schedules.length === 0) return 'no schedules\n';
  return table(
    ['SCHEDULE', 'KIND', 'STATE', 'NEXT RUN', 'LAST RUN'],
    document.schedules.map((schedule) => [
      schedule.name,
      schedule.kind,
      schedule.paused ? 'paused' : 'active',
      cellTime(schedule.nextRuns[0]),
      cellTime(schedule.recentRuns.at(-1)?.startedAt),
    ]),
  );
}

export function scheduleText(schedule: ScheduleDetails): string {
  const input = schedule.input as { source: unknown; destination: unknown; vmName: string };
  const when =
    schedule.cron.length > 0
      ? `cron ${schedule.cron.join(', ')}`
      : schedule.intervals.map((interval) => `every ${interval.everySeconds} s`).join(', ') || 'calendar';
  const lines = [
    `schedule ${schedule.name}: ${schedule.kind} ${input.vmName} (${String(input.source)} to ${String(input.destination)}), ${when} (UTC)`,
    `state:    ${schedule.paused ? 'paused' : 'active'}${schedule.note ? ` (${schedule.note})` : ''}`,
    `overlap:  ${schedule.overlap}, catch-up window ${schedule.catchupWindowSeconds} s`,
    `runs:     ${schedule.actionsTaken} taken, ${schedule.skippedOverlap} skipped (overlap), ${schedule.missedCatchupWindow} missed (catch-up window)`,
    `running:  ${schedule.runningOperations.join(', ') || '-'}`,
    `next:     ${schedule.nextRuns.slice(0, 3).map(cellTime).join(', ') || '-'}`,
  ];
  let text = `${lines.join('\n')}\n`;
  if (schedule.recentRuns.length > 0) {
    text += table(
      ['STARTED', 'OPERATION', 'STATE', 'OUTCOME'],
      schedule.recentRuns.map((run) => [
        cellTime(run.startedAt),
        run.operationId,
        run.state,
        run.result
          ? `${formatBytes(run.result.bytesTransferred)} sent in ${run.result.durationSeconds.toFixed(1)} s${run.result.warnings.length ? `, ${run.result.warnings.length} warning(s)` : ''}`
          : run.error
            ? `error ${run.error.code} (${run.error.codeName})`
            : '-',
      ]),
    );
  }
  return text;
}
