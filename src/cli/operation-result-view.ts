import type { CloneResult } from '../domain/clone-result';
import type { MigrateResult } from '../domain/migration';
import type { SyncResult } from '../domain/sync-result';
import { cloneResultText } from './clone-result-view';
import { isMigrateResult, migrateResultText } from './migrate-result-view';
import { isSyncResult, syncResultText } from './sync-result-view';

/** Any operation's result, for people, by its kind: what `status` prints for an operation it did not start. */
export function operationResultText(result: CloneResult | SyncResult | MigrateResult): string {
  if (isMigrateResult(result)) return migrateResultText(result);
  if (isSyncResult(result)) return syncResultText(result);
  return cloneResultText(result);
}
