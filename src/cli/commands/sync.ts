import { Command } from 'commander';
import type { SyncInput } from '../../domain/schemas/sync-input';
import type { SyncResult } from '../../domain/sync-result';
import { operationCommand, type OperationCommandFlags } from '../operation-command';
import { syncOptions } from '../operation-options';
import { syncInputFromFlags, type SyncFlags } from '../sync-flags';
import { syncResultText } from '../sync-result-view';

export function syncCommand(): Command {
  return operationCommand<SyncFlags & OperationCommandFlags, SyncInput, SyncResult>({
    name: 'sync',
    description:
      'bring the copy of VM on host DEST up to date with the source on host SOURCE, sending only changed blocks',
    options: syncOptions,
    input: (subject, flags, config) => syncInputFromFlags(subject, flags, config.defaults.sync),
    start: (client, input) => client.startSync(input),
    resultText: syncResultText,
  });
}
