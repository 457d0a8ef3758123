import type { CloneInput } from '../domain/schemas/clone-input';
import { ErrorCode, KvmCloneError } from '../errors';
import type { CloneDefaults } from './config-schema';
import type { DataPathFlags } from './data-path-flags';
import { operationInputFromFlags, type OperationSubject } from './operation-input';

/** The clone command's flags as commander gives them: absent unless given. */
export interface CloneFlags extends DataPathFlags {
  newName?: string;
  destDir?: string;
  destPool?: string;
  force?: boolean;
  dryRun?: boolean;
  start?: boolean;
  networkMap?: string[];
  copyCdroms?: boolean;
  excludeDisk?: string[];
  flatten?: boolean;
}

/** `lan=br0` entries of --network-map as a map; a malformed entry is a validation error. */
export function parseNetworkMap(entries: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const entry of entries) {
    const match = /^([^=]+)=([^=]+)$/.exec(entry);
    if (!match)
      throw new KvmCloneError(
        ErrorCode.VALIDATION_ERROR,
        `--network-map: '${entry}' is not SOURCE=DESTINATION (e.g. default=br0)`,
        { flag: '--network-map' },
      );
    map[match[1]!.trim()] = match[2]!.trim();
  }
  return map;
}

/**
 * The workflow input: flags over the config's `defaults.clone` over the workflow's
 * defaults. Network maps merge per source network and excluded disks add up, so a flag
 * refines the config rather than silently dropping part of it.
 */
export function cloneInputFromFlags(
  subject: OperationSubject,
  flags: CloneFlags,
  defaults: CloneDefaults = {},
): CloneInput {
  const input = operationInputFromFlags<CloneInput>(
    subject,
    defaults,
    {
      newName: flags.newName,
      destDir: flags.destDir,
      destPool: flags.destPool,
      force: flags.force,
      dryRun: flags.dryRun,
      start: flags.start,
      copyCdroms: flags.copyCdroms,
      flattenBackingChain: flags.flatten,
    },
    flags,
  );
  if (flags.networkMap?.length) input.networkMap = { ...defaults.networkMap, ...parseNetworkMap(flags.networkMap) };
  if (flags.excludeDisk?.length)
    input.excludeDisks = [...new Set([...(defaults.excludeDisks ?? []), ...flags.excludeDisk])];
  // A config's destDir and a --dest-pool flag (or the reverse) would be rejected as both.
  if (flags.destPool !== undefined && flags.destDir === undefined) delete input.destDir;
  if (flags.destDir !== undefined && flags.destPool === undefined) delete input.destPool;
  return input;
}
