import { constants as fsConstants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';
import { ErrorCode, KvmCloneError } from '../errors';

/** Where the Temporal CLI came from, in the order they are tried. */
export type TemporalBinarySource = 'explicit' | 'env' | 'path' | 'project-cache' | 'sdk-download';

/**
 * A Temporal CLI on this machine, or `sdk-download` when there is none: the SDK then
 * fetches its own copy (TestWorkflowEnvironment.createLocal() default), which only works
 * with access to temporal.download.
 */
export type TemporalBinary =
  | { source: Exclude<TemporalBinarySource, 'sdk-download'>; path: string }
  | { source: 'sdk-download'; path?: undefined };

export interface FindTemporalBinaryOptions {
  /** From configuration; wins over everything else and must exist. */
  explicitPath?: string;
  /** Defaults to process.env; read for KVM_CLONE_TEMPORAL_BIN and PATH. */
  env?: NodeJS.ProcessEnv;
  /** Holds .cache/temporal/bin/temporal; defaults to the kvm-clone package root. */
  projectRoot?: string;
}

export const TEMPORAL_BIN_ENV = 'KVM_CLONE_TEMPORAL_BIN';

/** Where scripts/install-temporal puts the CLI, relative to the project root. */
export const PROJECT_CACHE_BINARY = path.join('.cache', 'temporal', 'bin', 'temporal');

const PACKAGE_NAME = 'kvm-clone';

export async function findTemporalBinary(options: FindTemporalBinaryOptions = {}): Promise<TemporalBinary> {
  const env = options.env ?? process.env;

  // A path someone wrote down is a promise: falling through to another binary would hide the typo.
  const explicitPath = nonEmpty(options.explicitPath);
  if (explicitPath !== undefined) {
    return { source: 'explicit', path: await requireExecutable(explicitPath, 'the configured Temporal CLI path') };
  }
  const envPath = nonEmpty(env[TEMPORAL_BIN_ENV]);
  if (envPath !== undefined) {
    return { source: 'env', path: await requireExecutable(envPath, TEMPORAL_BIN_ENV) };
  }

  const onPath = await findOnPath('temporal', env.PATH);
  if (onPath !== undefined) {
    return { source: 'path', path: onPath };
  }

  const projectRoot = options.projectRoot ?? (await findPackageRoot(__dirname));
  if (projectRoot !== undefined) {
    const cached = path.join(projectRoot, PROJECT_CACHE_BINARY);
    if (await isExecutableFile(cached)) {
      return { source: 'project-cache', path: cached };
    }
  }

  return { source: 'sdk-download' };
}

/** The SDK's spelling of the same choice, for TestWorkflowEnvironment.createLocal({ server: { executable } }). */
export function toEphemeralServerExecutable(binary: TemporalBinary): EphemeralServerExecutable {
  return binary.source === 'sdk-download' ? { type: 'cached-download' } : { type: 'existing-path', path: binary.path };
}

/** The nearest directory at or above `start` whose package.json names kvm-clone. */
export async function findPackageRoot(start: string): Promise<string | undefined> {
  let dir = path.resolve(start);
  for (;;) {
    if ((await readPackageName(path.join(dir, 'package.json'))) === PACKAGE_NAME) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return undefined;
    }
    dir = parent;
  }
}

async function requireExecutable(candidate: string, origin: string): Promise<string> {
  const resolved = path.resolve(candidate);
  if (!(await isExecutableFile(resolved))) {
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `Temporal CLI from ${origin} is not an executable file: ${resolved}`,
      { path: resolved, origin },
    );
  }
  return resolved;
}

async function findOnPath(name: string, searchPath: string | undefined): Promise<string | undefined> {
  // Empty PATH entries mean "the current directory" to a shell; trusting that would make
  // the result depend on where kvm-clone happens to be started.
  const dirs = (searchPath ?? '').split(path.delimiter).filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = path.resolve(dir, name);
    if (await isExecutableFile(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await stat(file)).isFile()) {
      return false;
    }
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function readPackageName(file: string): Promise<string | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'name' in parsed && typeof parsed.name === 'string') {
      return parsed.name;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
