import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ErrorCode, KvmCloneError } from '../errors';
import { cancelCommand } from './commands/cancel';
import { cloneCommand } from './commands/clone';
import { configCommand } from './commands/config';
import { cutoverCommand } from './commands/cutover';
import { listCommand } from './commands/list';
import { migrateCommand } from './commands/migrate';
import { scheduleCommand } from './commands/schedule';
import { serverCommand } from './commands/server';
import { statusCommand } from './commands/status';
import { syncCommand } from './commands/sync';
import { workerCommand } from './commands/worker';
import { defaultConfigPath } from './config';
import { fail } from './output';
import { LOG_LEVELS, type LogLevel, type OutputFormat } from './global-options';
import { USAGE_EXIT_STATUS } from './usage-error';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../package.json') as { version: string };

/** A log level in any case (`INFO`, `Debug`), as the original tool's users wrote it. */
function parseLogLevel(value: string): LogLevel {
  const level = value.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new InvalidArgumentError(`Allowed choices are ${LOG_LEVELS.join(', ')} (in any case).`);
  return level as LogLevel;
}

/**
 * Usage mistakes (unknown option, missing argument) fail like every other error: code
 * 1007 in the same one-line format, and as an error document with json/yaml output. Their
 * exit status is 2, as with other Unix tools, so a script tells them from a failed operation.
 */
function exitOnUsageError(program: Command): (error: CommanderError) => never {
  return (error) => {
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.code === 'commander.help'
    )
      process.exit(0);
    const output = program.opts<{ output?: OutputFormat }>().output;
    const format: OutputFormat = output === 'json' || output === 'yaml' ? output : 'text';
    fail(
      new KvmCloneError(ErrorCode.VALIDATION_ERROR, error.message.replace(/^error: /, '')),
      format,
      USAGE_EXIT_STATUS,
    );
  };
}

export function buildProgram(): Command {
  const program = new Command('kvm-clone')
    .description('Copy KVM/libvirt VMs between hosts over SSH, as durable Temporal workflows.')
    .version(version)
    .option('-c, --config <file>', `config file (default: ${defaultConfigPath()})`)
    .option('-v, --verbose', 'more notes on stderr', false)
    .option('-q, --quiet', 'no progress or notes on stderr', false)
    .addOption(
      new Option('-o, --output <format>', 'output format; json and yaml print documents for scripts')
        .choices(['text', 'json', 'yaml'])
        .default('text'),
    )
    .addOption(
      new Option(
        '--log-level <level>',
        "log level of the worker's Temporal SDK log: on stderr for `worker`, in <state dir>/worker.log for a command's own worker (error, warn, info, debug; any case)",
      ).argParser(parseLogLevel),
    )
    .showHelpAfterError(false);

  for (const command of [
    cloneCommand(),
    syncCommand(),
    migrateCommand(),
    cutoverCommand(),
    scheduleCommand(),
    listCommand(),
    statusCommand(),
    cancelCommand(),
    configCommand(),
    workerCommand(),
    serverCommand(),
  ])
    program.addCommand(command);

  const onError = exitOnUsageError(program);
  const quietUsage = { outputError: () => undefined };
  const configure = (command: Command): void => {
    command.exitOverride(onError).configureOutput(quietUsage);
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Runs the CLI on process.argv; used by bin/kvm-clone. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    fail(error, 'text');
  }
}

if (require.main === module) void main();
