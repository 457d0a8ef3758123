import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ErrorCode, KvmCloneError } from '../errors';
import { hostSpecSchema } from '../domain/schemas/host';

export const configSchema = z.object({
  hosts: z.record(z.string(), hostSpecSchema.partial({ port: true, user: true, hostKeyPolicy: true, libvirtUri: true, storageDir: true })).default({}),
  temporal: z
    .object({
      address: z.string().min(1).optional(),
      namespace: z.string().min(1).default('default'),
      taskQueue: z.string().min(1).optional(),
    })
    .default({ namespace: 'default' }),
});

export type KvmCloneConfig = z.output<typeof configSchema>;

/** `$XDG_CONFIG_HOME/kvm-clone/config.yaml` when XDG_CONFIG_HOME is set, else `~/.kvm-clone/config.yaml`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CONFIG_HOME ? path.join(env.XDG_CONFIG_HOME, 'kvm-clone', 'config.yaml') : path.join(homedir(), '.kvm-clone', 'config.yaml');
}

/** Where the embedded Temporal keeps its state: `$XDG_STATE_HOME/kvm-clone`, else `~/.local/state/kvm-clone`. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_STATE_HOME ?? path.join(homedir(), '.local', 'state'), 'kvm-clone');
}

/**
 * Reads and validates the YAML config. A missing default config is an empty one; a
 * missing explicit one, a YAML error or an invalid value is code 1001 naming the key and line.
 */
export async function loadConfig(file: string | undefined): Promise<KvmCloneConfig> {
  const configPath = file ?? defaultConfigPath();
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    if (!file && (error as NodeJS.ErrnoException).code === 'ENOENT') return configSchema.parse({});
    throw new KvmCloneError(ErrorCode.CONFIGURATION_ERROR, `cannot read config ${configPath}: ${(error as Error).message}`, { path: configPath });
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  if (document.errors.length > 0) {
    const problem = document.errors[0]!;
    const line = problem.linePos?.[0].line;
    throw new KvmCloneError(ErrorCode.CONFIGURATION_ERROR, `${configPath}${line ? `:${line}` : ''}: invalid YAML: ${problem.message.split('\n')[0]}`, { path: configPath, line });
  }
  const result = configSchema.safeParse(document.toJS() ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keyPath = issue.path.map(String);
  const node = document.getIn(keyPath, true) as { range?: [number, number, number] } | undefined;
  const parentNode = document.getIn(keyPath.slice(0, -1), true) as { range?: [number, number, number] } | undefined;
  const offset = node?.range?.[0] ?? parentNode?.range?.[0];
  const line = offset === undefined ? undefined : lineCounter.linePos(offset).line;
  throw new KvmCloneError(
    ErrorCode.CONFIGURATION_ERROR,
    `${configPath}${line ? `:${line}` : ''}: ${keyPath.join('.') || '(top level)'}: ${issue.message}`,
    { path: configPath, key: keyPath.join('.'), line },
  );
}

/** Warns when a config that may hold secrets is readable by other users. */
export async function configPermissionWarning(file: string): Promise<string | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (info && (info.mode & 0o077) !== 0) return `config ${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`;
  return undefined;
}
