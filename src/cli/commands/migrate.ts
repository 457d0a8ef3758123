import { Command } from 'commander';
import type { MigrateResult } from '../../domain/migration';
import type { MigrateInput } from '../../domain/schemas/migrate-input';
import { migrateInputFromFlags, type MigrateFlags } from '../migrate-flags';
import { migrateResultText } from '../migrate-result-view';
import { operationCommand, type OperationCommandFlags } from '../operation-command';
import { migrateOptions } from '../operation-options';

/**
 * `kvm-clone migrate`: like clone and sync, it follows the operation to its result. Following
 * has no time limit of its own, so a migration whose cutover is held or set for hours later is
 * followed until it ends; only the migration's own --timeout ends it.
 */
export function migrateCommand(): Command {
  return operationCommand<MigrateFlags & OperationCommandFlags, MigrateInput, MigrateResult>({
    name: 'migrate',
    description:
      'move VM from host SOURCE to host DEST with seconds of downtime: copy it while it runs, sync until the rest is small, then cut over',
    options: migrateOptions,
    input: (subject, flags) => migrateInputFromFlags(subject, flags),
    start: (client, input) => client.startMigrate(input),
    resultText: migrateResultText,
  });
}
