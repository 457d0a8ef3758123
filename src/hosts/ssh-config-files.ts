import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, KvmCloneError } from '../errors';

/** An ssh_config file, and the directory its relative `Include` paths start from. */
export interface SshConfigFile {
  file: string;
  includeDir: string;
}

/**
 * What resolving a host with ssh_config needs from the worker's machine: its files, its
 * user and its environment. Tests give their own; `workerSshEnvironment` is the real one.
 */
export interface SshConfigEnvironment {
  /** `~` and `%d`. */
  home: string;
  /** `%u`, and the user a host without `User` is reached as (as OpenSSH does). */
  localUser: string;
  /** `%l`; `%L` is its first label. */
  localHostname: string;
  /** `%i`. */
  uid: number;
  /** `${VAR}` in file names. */
  env: Readonly<Record<string, string | undefined>>;
  /** The files in the order OpenSSH reads them: the first value of a directive wins. */
  configFiles: readonly SshConfigFile[];
  /** A file's text; undefined when it does not exist. */
  readFile(file: string): string | undefined;
  /** Whether the worker can read this file (an identity file is picked only then). */
  isReadable(file: string): boolean;
  /** The names in a directory; none when it does not exist. */
  listDir(dir: string): string[];
}

function configError(file: string, reason: string, cause?: unknown): KvmCloneError {
  return new KvmCloneError(
    ErrorCode.CONFIGURATION_ERROR,
    `ssh_config ${file}: ${reason}`,
    { file },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Reads an ssh_config file as OpenSSH would: it must belong to the worker's user or root
 * and be writable by nobody else, because whoever can write it decides where the worker
 * connects with its keys.
 */
function readConfigFile(file: string, uid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw configError(file, `cannot be read: ${(error as Error).message}`, error);
  }
  const stat = statSync(file);
  if ((stat.uid !== uid && stat.uid !== 0) || (stat.mode & 0o022) !== 0) {
    throw configError(
      file,
      `bad owner or permissions (owner uid ${stat.uid}, mode ${(stat.mode & 0o777).toString(8)}): it must belong to this user or root and be writable by nobody else, as OpenSSH requires`,
    );
  }
  return text;
}

/** The worker's own: its home, user, environment, ~/.ssh/config and then /etc/ssh/ssh_config. */
export function workerSshEnvironment(
  overrides: Partial<Pick<SshConfigEnvironment, 'configFiles' | 'home' | 'env'>> = {},
): SshConfigEnvironment {
  const home = overrides.home ?? os.homedir();
  const uid = process.getuid?.() ?? 0;
  let localUser: string;
  try {
    localUser = os.userInfo().username;
  } catch {
    // A user without a passwd entry (some containers): OpenSSH would refuse to run at all.
    localUser = process.env.USER ?? 'root';
  }
  return {
    home,
    localUser,
    localHostname: os.hostname(),
    uid,
    env: overrides.env ?? process.env,
    configFiles: overrides.configFiles ?? [
      { file: path.join(home, '.ssh', 'config'), includeDir: path.join(home, '.ssh') },
      { file: '/etc/ssh/ssh_config', includeDir: '/etc/ssh' },
    ],
    readFile: (file) => readConfigFile(file, uid),
    isReadable: (file) => {
      try {
        accessSync(file, constants.R_OK);
        return statSync(file).isFile();
      } catch {
        return false;
      }
    },
    listDir: (dir) => {
      try {
        return readdirSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw configError(dir, `cannot be listed: ${(error as Error).message}`, error);
      }
    },
  };
}
