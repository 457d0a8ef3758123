import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { ErrorCode, KvmCloneError } from '../../errors';
import { loadConfig, parseConfigText, type ConfigDocument } from '../config';
import {
  configValueAt,
  initialConfigText,
  parseConfigValue,
  redactedConfig,
  setConfigValue,
  unsetConfigValue,
  writeConfigFile,
} from '../config-edit';
import { cliContext, type CliContext } from '../global-options';
import { fail, printResult } from '../output';

/** The config file as a document to edit; a file that does not exist yet starts as `config init` writes it. */
async function readConfigDocument(context: CliContext): Promise<ConfigDocument> {
  const text = await readFile(context.configPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return initialConfigText();
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `cannot read config ${context.configPath}: ${error.message}`,
      { path: context.configPath },
    );
  });
  return parseConfigText(text, context.configPath);
}

function action<A extends unknown[]>(run: (context: CliContext, ...args: A) => Promise<void>) {
  return async (...args: [...A, unknown, Command]): Promise<void> => {
    const command = args.at(-1) as Command;
    const context = cliContext(command);
    try {
      await run(context, ...(args.slice(0, -2) as A));
    } catch (error) {
      fail(error, context.format);
    }
  };
}

export function configCommand(): Command {
  const config = new Command('config').description(
    `show or edit the config file (comments are kept; each edit is validated before it is written)`,
  );

  config
    .command('show')
    .description('print the config in effect, with defaults filled in and the API key hidden')
    .argument('[key]', 'only this key, e.g. temporal or hosts.prod-a')
    .action(
      action(async (context, key?: string) => {
        const loaded = redactedConfig(await loadConfig(context.configExplicit ? context.configPath : undefined));
        const value = key === undefined ? loaded : configValueAt(loaded, key);
        printResult(
          context.format,
          { type: 'config', path: context.configPath, ...(key ? { key } : {}), value },
          (document) =>
            typeof document.value === 'object' && document.value !== null
              ? stringify(document.value)
              : `${String(document.value)}\n`,
        );
      }),
    );

  config
    .command('set')
    .description('set KEY to VALUE, read as YAML: 2222 is a number, true a boolean, {lan: br0} a mapping')
    .argument('<key>', 'dotted key, e.g. temporal.address or hosts.prod-a.port')
    .argument('<value>', 'the value')
    .option('--string', 'keep VALUE as text, e.g. a user named 0123')
    .action(
      action(async (context, key: string, text: string) => {
        const options = (context.options as { string?: boolean }).string ?? false;
        const document = await readConfigDocument(context);
        const value = parseConfigValue(text, options);
        const edited = setConfigValue(document, key, value);
        await writeConfigFile(context.configPath, edited.text);
        printResult(
          context.format,
          { type: 'config-changed', path: context.configPath, key, value },
          () => `set ${key} in ${context.configPath}\n`,
        );
      }),
    );

  config
    .command('unset')
    .description('remove KEY, so its default applies')
    .argument('<key>', 'dotted key')
    .action(
      action(async (context, key: string) => {
        const edited = unsetConfigValue(await readConfigDocument(context), key);
        await writeConfigFile(context.configPath, edited.text);
        printResult(
          context.format,
          { type: 'config-changed', path: context.configPath, key },
          () => `removed ${key} from ${context.configPath}\n`,
        );
      }),
    );

  config
    .command('init')
    .description('write a commented starting config (mode 600)')
    .option('--force', 'replace an existing config')
    .action(
      action(async (context) => {
        const force = (context.options as { force?: boolean }).force ?? false;
        const exists = await readFile(context.configPath).then(
          () => true,
          () => false,
        );
        if (exists && !force)
          throw new KvmCloneError(
            ErrorCode.CONFIGURATION_ERROR,
            `${context.configPath} already exists; edit it with kvm-clone config set, or use --force to replace it`,
            { path: context.configPath },
          );
        await writeConfigFile(context.configPath, initialConfigText());
        printResult(
          context.format,
          { type: 'config-created', path: context.configPath },
          () => `wrote ${context.configPath}\n`,
        );
      }),
    );

  return config;
}
