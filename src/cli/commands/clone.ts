import { Command } from 'commander';
import type { CloneResult } from '../../domain/clone-result';
import { cloneInputFromFlags, type CloneFlags } from '../clone-flags';
import { cloneResultText } from '../clone-result-view';
import { directRouteFor } from '../direct-route-choice';
import { cliContext, loadCliConfig } from '../global-options';
import { notifyInputFor } from '../notify-merge';
import { cloneOptions, detachOption } from '../operation-options';
import { runOperation } from '../operation-run';

interface CloneCommandFlags extends CloneFlags {
  relay?: boolean;
  notify?: string[];
}

function runClone(
  source: string,
  destination: string,
  vmName: string,
  flags: CloneCommandFlags,
  command: Command,
): Promise<void> {
  const context = cliContext(command);
  return runOperation<CloneResult>(context, () => loadCliConfig(context), {
    detach: Boolean(flags.detach),
    text: cloneResultText,
    async start(config, access) {
      const input = cloneInputFromFlags({ source, destination, vmName }, flags, config.defaults.clone);
      if (directRouteFor(config, source, destination, flags.relay)) input.direct = true;
      const notify = notifyInputFor(config, flags.notify);
      if (notify) input.notify = notify;
      return (await access.client.startClone(input)).workflowId;
    },
  });
}

export function cloneCommand(): Command {
  const command = new Command('clone')
    .description('clone VM from host SOURCE to host DEST (host aliases from the config), showing live progress')
    .argument('<source>', 'source host alias')
    .argument('<dest>', 'destination host alias')
    .argument('<vm>', 'name of the VM on the source');
  for (const option of [...cloneOptions(), detachOption()]) command.addOption(option);
  return command.action((source: string, dest: string, vm: string, flags: CloneCommandFlags, self: Command) =>
    runClone(source, dest, vm, flags, self),
  );
}
