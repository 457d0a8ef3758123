import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { ErrorCode, KvmCloneError } from '../errors';
import { configSchema, type KvmCloneConfig } from './config-schema';

export { configSchema, type KvmCloneConfig } from './config-schema';

/** `$XDG_CONFIG_HOME/kvm-clone/config.yaml` when XDG_CONFIG_HOME is set, else `~/.kvm-clone/config.yaml`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CONFIG_HOME
    ? path.join(env.XDG_CONFIG_HOME, 'kvm-clone', 'config.yaml')
    : path.join(homedir(), '.kvm-clone', 'config.yaml');
}

/** Where the embedded Temporal keeps its state: `$XDG_STATE_HOME/kvm-clone`, else `~/.local/state/kvm-clone`. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_STATE_HOME ?? path.join(homedir(), '.local', 'state'), 'kvm-clone');
}

/** A config file as YAML, with what is needed to name the line of a problem. */
export interface ConfigDocument {
  path: string;
  document: Document.Parsed;
  lineCounter: LineCounter;
}

/** Parses config text; a YAML syntax error is code 1001 with its line. */
export function parseConfigText(text: string, configPath: string): ConfigDocument {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  if (document.errors.length > 0) {
    const problem = document.errors[0]!;
    const line = problem.linePos?.[0].line;
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `${configPath}${line ? `:${line}` : ''}: invalid YAML: ${problem.message.split('\n')[0]}`,
      { path: configPath, line },
    );
  }
  return { path: configPath, document, lineCounter };
}

/** The line a key path is written on, or its nearest written parent's. */
function lineOf(config: ConfigDocument, keyPath: string[]): number | undefined {
  for (let depth = keyPath.length; depth >= 0; depth--) {
    const node = config.document.getIn(keyPath.slice(0, depth), true) as
      { range?: [number, number, number] } | undefined;
    const offset = node?.range?.[0];
    if (offset !== undefined) return config.lineCounter.linePos(offset).line;
  }
  return undefined;
}

/** Validates a parsed config; the first problem is code 1001 naming the key and its line. */
export function validateConfigDocument(config: ConfigDocument): KvmCloneConfig {
  const result = configSchema.safeParse(config.document.toJS() ?? {});
  if (result.success) return result.data as KvmCloneConfig;
  const issue = result.error.issues[0]!;
  const keyPath = issue.path.map(String);
  // An unknown key is reported at the key itself, where the typo is.
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) keyPath.push(issue.keys[0]);
  const line = lineOf(config, keyPath);
  throw new KvmCloneError(
    ErrorCode.CONFIGURATION_ERROR,
    `${config.path}${line ? `:${line}` : ''}: ${keyPath.join('.') || '(top level)'}: ${issue.message}`,
    {
      path: config.path,
      key: keyPath.join('.'),
      line,
    },
  );
}

/**
 * Reads and validates the YAML config. A missing default config is an empty one; a
 * missing explicit one, a YAML error or an invalid value is code 1001 naming the key and line.
 */
export async function loadConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KvmCloneConfig> {
  const configPath = file ?? defaultConfigPath();
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    if (!file && (error as NodeJS.ErrnoException).code === 'ENOENT')
      return withTemporalEnvironment(configSchema.parse({}) as KvmCloneConfig, env);
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `cannot read config ${configPath}: ${(error as Error).message}`,
      { path: configPath },
    );
  }
  return withTemporalEnvironment(validateConfigDocument(parseConfigText(text, configPath)), env);
}

/** Environment variables that point the CLI and workers at a cluster, over the file. */
export const TEMPORAL_ENV = {
  address: 'KVM_CLONE_TEMPORAL_ADDRESS',
  namespace: 'KVM_CLONE_TEMPORAL_NAMESPACE',
  taskQueue: 'KVM_CLONE_TASK_QUEUE',
} as const;

/** The config with the Temporal address, namespace and task queue from the environment, where set. */
export function withTemporalEnvironment(config: KvmCloneConfig, env: NodeJS.ProcessEnv): KvmCloneConfig {
  const temporal = { ...config.temporal };
  if (env[TEMPORAL_ENV.address]) temporal.address = env[TEMPORAL_ENV.address];
  if (env[TEMPORAL_ENV.namespace]) temporal.namespace = env[TEMPORAL_ENV.namespace]!;
  if (env[TEMPORAL_ENV.taskQueue]) temporal.taskQueue = env[TEMPORAL_ENV.taskQueue];
  return { ...config, temporal };
}

/** Warns when a config that may hold secrets is readable by other users. */
export async function configPermissionWarning(file: string): Promise<string | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (info && (info.mode & 0o077) !== 0)
    return `config ${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`;
  return undefined;
}
