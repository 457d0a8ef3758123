import type { CloneResult } from './clone-result';
import type { MigrateResult } from './migration';
import type { NotificationEvent } from './schemas/notify';
import { formatBytes } from './sizes';
import type { SyncResult } from './sync-result';

/** The operation a notification is about. */
export interface NotifiedOperation {
  kind: 'clone' | 'sync' | 'migrate';
  operationId: string;
  runId: string;
  vmName: string;
  /** The clone's new name, or the sync's target. */
  targetName: string;
  sourceHost: string;
  destinationHost: string;
}

/** What every webhook receives (as JSON), or what its text is made from (slack format). */
export interface NotificationDocument extends NotifiedOperation {
  type: 'kvm-clone.notification';
  /** Changes only when a field changes meaning; receivers may check it. */
  version: 1;
  event: NotificationEvent;
  /** ISO 8601, when the operation ended (workflow time). */
  endedAt: string;
  result?: CloneResult | SyncResult | MigrateResult;
  error?: { code: number; codeName: string; message: string };
}

export function notificationDocument(
  operation: NotifiedOperation,
  outcome:
    | { event: 'success'; result: CloneResult | SyncResult | MigrateResult }
    | { event: 'failure' | 'cancelled'; error: { code: number; codeName: string; message: string } },
  endedAt: Date,
): NotificationDocument {
  return {
    type: 'kvm-clone.notification',
    version: 1,
    event: outcome.event,
    ...operation,
    endedAt: endedAt.toISOString(),
    ...(outcome.event === 'success' ? { result: outcome.result } : { error: outcome.error }),
  };
}

/** One line for chat (Slack, Teams): what ended, how, and the operation id to look it up. */
export function notificationText(document: NotificationDocument): string {
  const what = `${document.kind} of ${document.vmName} (${document.sourceHost}) to ${document.targetName} (${document.destinationHost})`;
  if (document.event === 'success' && document.result) {
    const dryRun = 'dryRun' in document.result && document.result.dryRun ? ' (dry run)' : '';
    const warnings = document.result.warnings.length > 0 ? `, ${document.result.warnings.length} warning(s)` : '';
    return `kvm-clone: ${what} succeeded${dryRun} in ${document.result.durationSeconds.toFixed(1)} s, ${formatBytes(document.result.bytesTransferred)} sent${warnings}; operation ${document.operationId}`;
  }
  const reason = document.error
    ? `: error ${document.error.code} (${document.error.codeName}): ${document.error.message}`
    : '';
  return `kvm-clone: ${what} ${document.event === 'cancelled' ? 'was cancelled' : 'failed'}${reason}; operation ${document.operationId}`;
}
