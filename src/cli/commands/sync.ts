import { Command } from 'commander';
import type { SyncResult } from '../../domain/sync-result';
import { directRouteFor } from '../direct-route-choice';
import { cliContext, loadCliConfig } from '../global-options';
import { notifyInputFor } from '../notify-merge';
import { detachOption, syncOptions } from '../operation-options';
import { runOperation } from '../operation-run';
import { syncInputFromFlags, type SyncFlags } from '../sync-flags';
import { syncResultText } from '../sync-result-view';

interface SyncCommandFlags extends SyncFlags {
  relay?: boolean;
  notify?: string[];
}

function runSync(
  source: string,
  destination: string,
  vmName: string,
  flags: SyncCommandFlags,
  command: Command,
): Promise<void> {
  const context = cliContext(command);
  return runOperation<SyncResult>(context, () => loadCliConfig(context), {
    detach: Boolean(flags.detach),
    text: syncResultText,
    async start(config, access) {
      const input = syncInputFromFlags({ source, destination, vmName }, flags, config.defaults.sync);
      if (directRouteFor(config, source, destination, flags.relay)) input.direct = true;
      const notify = notifyInputFor(config, flags.notify);
      if (notify) input.notify = notify;
      return (await access.client.startSync(input)).workflowId;
    },
  });
}

export function syncCommand(): Command {
  const command = new Command('sync')
    .description(
      'bring the copy of VM on host DEST up to date with the source on host SOURCE, sending only changed blocks',
    )
    .argument('<source>', 'source host alias')
    .argument('<dest>', 'destination host alias')
    .argument('<vm>', 'name of the VM on the source');
  for (const option of [...syncOptions(), detachOption()]) command.addOption(option);
  return command.action((source: string, dest: string, vm: string, flags: SyncCommandFlags, self: Command) =>
    runSync(source, dest, vm, flags, self),
  );
}
