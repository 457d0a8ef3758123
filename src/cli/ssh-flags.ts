import { accessSync, constants, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import { quoteShellArg } from '../domain/shell-quote';
import { ErrorCode, KvmCloneError } from '../errors';
import type { ReferenceDefaults } from '../hosts/ssh-config';

/** The original tool's `-k/--ssh-key` and `--ssh-port`, as commander gives them: absent unless given. */
export interface SshFlags {
  sshKey?: string;
  sshPort?: string;
}

/**
 * The flags. They configure how this command's own worker reaches hosts given by ssh name, and never travel in the
 * workflow input: a shared worker's keys and ports are its config's.
 */
export function sshFlagOptions(): Option[] {
  return [
    new Option(
      '-k, --ssh-key <path>',
      "SSH key for hosts given by ssh name, as ssh -i takes it (before ~/.ssh/config's IdentityFile); only with this command's own worker",
    ),
    new Option(
      '--ssh-port <port>',
      "port for hosts given by ssh name when neither the name nor ~/.ssh/config gives one (default 22); only with this command's own worker",
    ),
  ];
}

/**
 * The flags on a command whose operations a shared worker runs (`worker` itself, `schedule create`): hidden, and a
 * usage error (exit 2) that says why rather than "unknown option".
 */
export function refusedSshFlagOptions(why: string): Option[] {
  const refuse = (): never => {
    throw new InvalidArgumentError(
      `${why}; the worker's config owns keys and ports (hosts.<alias>.identityFile and port, or its user's ~/.ssh/config)`,
    );
  };
  return [
    new Option('-k, --ssh-key <path>').hideHelp().argParser(refuse),
    new Option('--ssh-port <port>').hideHelp().argParser(refuse),
  ];
}

/** Where a key path on the command line is looked up: the command's directory and home, and whether a file is readable. */
export interface KeyLookup {
  cwd: string;
  home: string;
  isReadableFile(file: string): boolean;
}

function isReadableFile(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

const processLookup = (): KeyLookup => ({ cwd: process.cwd(), home: os.homedir(), isReadableFile });

/** `~/…` (quoted, so the shell left it) from home, anything relative from the command's directory. */
function keyPath(value: string, lookup: KeyLookup): string {
  if (value === '~' || value.startsWith('~/')) return path.join(lookup.home, value.slice(1));
  return path.resolve(lookup.cwd, value);
}

function sshPort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new KvmCloneError(ErrorCode.INVALID_PORT, `--ssh-port: '${value}' is not a port (1-65535)`, {
      flag: '--ssh-port',
    });
  }
  return port;
}

/**
 * The flags as the worker's defaults for host references, checked here, where a mistake is the user's to fix: the key
 * must be a file this user can read (1101), the port a TCP port (1303). Undefined when neither flag is given.
 */
export function referenceDefaultsOf(
  flags: SshFlags,
  lookup: KeyLookup = processLookup(),
): ReferenceDefaults | undefined {
  if (flags.sshKey === undefined && flags.sshPort === undefined) return undefined;
  const defaults: ReferenceDefaults = {};
  if (flags.sshKey !== undefined) {
    const file = keyPath(flags.sshKey, lookup);
    if (!lookup.isReadableFile(file)) {
      throw new KvmCloneError(ErrorCode.SSH_KEY_ERROR, `-k/--ssh-key: ${file} is not a file this user can read`, {
        flag: '--ssh-key',
        path: file,
      });
    }
    defaults.identityFile = file;
  }
  if (flags.sshPort !== undefined) defaults.port = sshPort(flags.sshPort);
  return defaults;
}

/** The flags as they would be typed again, e.g. for `status --follow` after Ctrl-C: empty without them. */
export function sshFlagsText(defaults: ReferenceDefaults | undefined): string {
  const words: string[] = [];
  if (defaults?.identityFile !== undefined) words.push('-k', quoteShellArg(defaults.identityFile));
  if (defaults?.port !== undefined) words.push('--ssh-port', String(defaults.port));
  return words.map((word) => ` ${word}`).join('');
}
