import type { OperationStatus, OperationSummary } from '../client';
import { migrationProgressLines } from './migration-progress-view';
import { operationResultText } from './operation-result-view';
import { progressLines } from './progress-view';
import { cellTime, table } from './table';

/** What `status` prints without an id, with json or yaml output. */
export interface OperationListDocument {
  type: 'operations';
  operations: OperationSummary[];
}

export type OperationStatusDocument = { type: 'status' } & OperationStatus;

export function operationListText(document: OperationListDocument): string {
  if (document.operations.length === 0) return 'no operations\n';
  return table(
    ['OPERATION', 'KIND', 'STATE', 'STARTED', 'ENDED'],
    document.operations.map((operation) => [
      operation.operationId,
      operation.kind,
      operation.state,
      cellTime(operation.startTime),
      cellTime(operation.closeTime),
    ]),
  );
}

export function operationStatusText(status: OperationStatus): string {
  const lines = [
    `operation ${status.operationId} (${status.kind})`,
    `state:   ${status.state}`,
    `started: ${cellTime(status.startTime)}`,
  ];
  if (status.closeTime) lines.push(`ended:   ${cellTime(status.closeTime)}`);
  if (status.progress)
    lines.push(
      'progress:',
      ...progressLines({ progress: status.progress, bytesPerSecond: 0 }).map((line) => line.replace(/ 0 B\/s/, '')),
    );
  if (status.migration) lines.push(...migrationProgressLines(status.migration));
  if (status.progressUnavailable) lines.push(`progress: unavailable: ${status.progressUnavailable}`);
  if (status.error) lines.push(`error ${status.error.code} (${status.error.codeName}): ${status.error.message}`);
  let text = `${lines.join('\n')}\n`;
  if (status.result) text += operationResultText(status.result);
  return text;
}
