import { Command, type Option } from 'commander';
import type { KvmCloneClient } from '../client';
import type { KvmCloneConfig } from './config-schema';
import { cliContext, loadCliConfig, type CliContext } from './global-options';
import { detachOption } from './operation-options';
import { routeAndNotify, type OperationSubject } from './operation-input';
import { runOperation } from './operation-run';
import { referenceDefaultsOf, sshFlagOptions, type SshFlags } from './ssh-flags';

/** Flags of every operation command besides its own: how to run it, not what it does. */
export interface OperationCommandFlags extends SshFlags {
  detach?: boolean;
  relay?: boolean;
  notify?: string[];
}

/** What sets one operation command apart: `clone` and `sync` are each one of these. */
export interface OperationCommandSpec<F, I, R> {
  name: string;
  description: string;
  /** The operation's own options, one per workflow input field; --detach is added to them. */
  options: () => Option[];
  /** The workflow input from the arguments, the flags and the config's defaults. */
  input(subject: OperationSubject, flags: F, config: KvmCloneConfig): I;
  start(client: KvmCloneClient, input: I): Promise<{ workflowId: string }>;
  /** The finished operation's result, for people. */
  resultText(result: R): string;
}

/** -k/--ssh-port checked; a note when both hosts are config aliases, which keep their own key and port. */
function sshDefaultsFor(context: CliContext, subject: OperationSubject, flags: SshFlags, config: KvmCloneConfig) {
  const defaults = referenceDefaultsOf(flags);
  const aliases = [subject.source, subject.destination].filter((host) => Object.hasOwn(config.hosts, host));
  if (defaults && aliases.length === 2)
    context.warn(
      `-k/--ssh-key and --ssh-port apply to hosts given by ssh name; ${aliases.map((alias) => `'${alias}'`).join(' and ')} are config aliases, which keep their own identityFile and port`,
    );
  return defaults;
}

function runCommand<F extends OperationCommandFlags, I extends object, R extends object>(
  spec: OperationCommandSpec<F, I, R>,
  subject: OperationSubject,
  flags: F,
  command: Command,
): Promise<void> {
  const context = cliContext(command);
  return runOperation<R>(context, () => loadCliConfig(context), {
    detach: Boolean(flags.detach),
    hosts: [subject.source, subject.destination],
    text: spec.resultText,
    referenceDefaults: (config) => sshDefaultsFor(context, subject, flags, config),
    async start(config, access) {
      const input = { ...spec.input(subject, flags, config), ...routeAndNotify(config, subject, flags) };
      return (await spec.start(access.client, input)).workflowId;
    },
  });
}

/**
 * An operation command, `kvm-clone <name> SOURCE DEST VM [options]`: it starts the
 * operation, then prints its id (--detach) or follows it to its result.
 */
export function operationCommand<F extends OperationCommandFlags, I extends object, R extends object>(
  spec: OperationCommandSpec<F, I, R>,
): Command {
  const command = new Command(spec.name)
    .description(spec.description)
    .argument('<source>', 'source host: an alias from the config, or [user@]host[:port] as ssh takes it')
    .argument('<dest>', 'destination host: an alias from the config, or [user@]host[:port] as ssh takes it')
    .argument('<vm>', 'name of the VM on the source');
  for (const option of [...spec.options(), detachOption(), ...sshFlagOptions()]) command.addOption(option);
  return command.action((source: string, destination: string, vmName: string, flags: F, self: Command) =>
    runCommand(spec, { source, destination, vmName }, flags, self),
  );
}
