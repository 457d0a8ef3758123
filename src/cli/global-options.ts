import type { Command } from 'commander';
import { configPermissionWarning, defaultConfigPath, loadConfig, type KvmCloneConfig } from './config';

export type OutputFormat = 'text' | 'json' | 'yaml';
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The options every command shares, as commander parsed them. */
export interface GlobalOptions {
  config?: string;
  verbose: boolean;
  quiet: boolean;
  output: OutputFormat;
  logLevel?: LogLevel;
}

/** What a command works with: the shared options, its config, and where notes go. */
export interface CliContext {
  options: GlobalOptions;
  format: OutputFormat;
  configPath: string;
  /** Whether the config was given with -c rather than found at the default path. */
  configExplicit: boolean;
  /** One line on stderr, for people; -q silences it. */
  note(message: string): void;
  /** Only with -v. */
  detail(message: string): void;
  warn(message: string): void;
  /** Level of the `worker` command's SDK log on stderr: --log-level, else -v/-q. */
  logLevel: LogLevel;
}

export function globalOptionsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function cliContext(command: Command): CliContext {
  const options = globalOptionsOf(command);
  const write = (line: string): void => {
    process.stderr.write(`kvm-clone: ${line}\n`);
  };
  return {
    options,
    format: options.output,
    configPath: options.config ?? defaultConfigPath(),
    configExplicit: options.config !== undefined,
    note: (message) => {
      if (!options.quiet) write(message);
    },
    detail: (message) => {
      if (options.verbose && !options.quiet) write(message);
    },
    warn: (message) => {
      if (!options.quiet) write(`warning: ${message}`);
    },
    logLevel: options.logLevel ?? (options.verbose ? 'info' : options.quiet ? 'error' : 'warn'),
  };
}

/** The validated config, with a warning when others can read it. */
export async function loadCliConfig(context: CliContext): Promise<KvmCloneConfig> {
  const config = await loadConfig(context.configExplicit ? context.configPath : undefined);
  const warning = await configPermissionWarning(context.configPath);
  if (warning) context.warn(warning);
  return config;
}
