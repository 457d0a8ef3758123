import { ErrorCode, KvmCloneError } from '../errors';
import { joinPath } from '../domain/paths';
import type { DomainResources } from '../domain/domain-resources';
import type { DomainSummary, RequiredNetwork } from '../domain/domain-xml';
import { isSafeFileName } from '../domain/paths';
import { decideReplaceable, replacementCandidates, type KeptFile } from '../domain/replaced-files';
import { fitOutcome, resourceFit } from '../domain/resource-fit';
import { writablePools, type HostRef } from '../domain/schemas/host';
import { formatBytes } from '../domain/sizes';
import { pathsOfOtherDomains } from '../hosts/domain-references';
import { Libvirt } from '../hosts/libvirt';
import { resolvePaths } from '../hosts/path-probe';
import { RemoteDisk } from '../hosts/remote-disk';
import { remoteTools } from '../hosts/remote-tools';
import { describeHost, type SshSession } from '../hosts/ssh-session';
import { tpmStateDir } from '../hosts/tpm-state';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { assertWritableDirectory, writableAreas } from './writable-paths';

export interface CheckDestinationInput {
  destination: HostRef;
  newName: string;
  /** Directory for disks; absent means the pool's directory or the host's storage directory. */
  destDir?: string;
  destPool?: string;
  /** Replace a VM of the same name (after the copy is verified) instead of refusing. */
  force: boolean;
  /** Bytes the copies will occupy. */
  bytesNeeded: number;
  /** Final names of the copied files inside the destination directory. */
  fileNames: string[];
  networks: RequiredNetwork[];
  /** Files the clone refers to without copying them, such as CD-ROM media. */
  referencedFiles: string[];
  /** The clone's UUID when it carries TPM state, which lives in a directory named by it. */
  tpmUuid?: string;
  machine: Pick<DomainSummary, 'domainType' | 'emulator' | 'machine' | 'arch'>;
  /** The memory and vCPUs the domain asks for; absent (runs from before the check) compares nothing. */
  resources?: DomainResources;
  /** The clone is started once defined: a host short of memory or CPUs refuses it (1005) instead of a warning. */
  start?: boolean;
}

export interface DestinationCheck {
  destDir: string;
  freeBytes: number;
  /**
   * With force: the VM that the clone will replace, the files of it the clone may delete
   * (regular files inside the writable roots that no other domain uses, not read-only or
   * shareable disks), and those it must leave in place, with why.
   */
  replaced?: { vmName: string; paths: string[]; kept: KeptFile[] };
  /** Where the clone's TPM state goes, for tpmUuid. */
  tpmDir?: string;
  /** The storage pool the disks go into, when they become pool volumes. */
  pool?: string;
  compressors: { zstd: boolean; lz4: boolean };
  warnings: string[];
}

/** Free space kept beyond the copy itself, so a clone never fills a host's disk. */
export function spaceMargin(bytesNeeded: number): number {
  return Math.max(256 * 1024 * 1024, Math.ceil(bytesNeeded * 0.05));
}

/**
 * The files of the VM that force replaces which the clone may delete: see
 * DestinationCheck.replaced. Whatever cannot be vouched for is kept.
 */
async function replaceableFiles(
  session: SshSession,
  vmName: string,
  xml: string,
): Promise<{ paths: string[]; kept: KeptFile[] }> {
  const { candidates, kept } = replacementCandidates(xml);
  if (candidates.length === 0) return { paths: [], kept };
  const others = await pathsOfOtherDomains(session, vmName);
  if (others.unreadDomains.length > 0) {
    const reason = `the definition of ${others.unreadDomains.map((name) => `'${name}'`).join(', ')} could not be read, so no file can be shown to be unused`;
    return { paths: [], kept: [...kept, ...candidates.map((path) => ({ path, reason }))] };
  }
  const areas = await writableAreas(session);
  const resolved = await resolvePaths(session, [...areas.diskRoots, ...candidates, ...others.paths]);
  const roots = resolved.slice(0, areas.diskRoots.length);
  const files = resolved.slice(areas.diskRoots.length, areas.diskRoots.length + candidates.length);
  const references = resolved.slice(areas.diskRoots.length + candidates.length);
  const decided = decideReplaceable(files, roots, references);
  return { paths: decided.paths, kept: [...kept, ...decided.kept] };
}

/**
 * Whether the host has the memory and CPUs the domain asks for. Short of either, a clone that is to start is refused
 * (1005) before any byte moves; one that is only defined gets warnings, as does a host that does not report them.
 */
async function resourceWarnings(libvirt: Libvirt, where: string, input: CheckDestinationInput): Promise<string[]> {
  if (!input.resources) return [];
  const fit = resourceFit(input.resources, await libvirt.nodeCapacity());
  const outcome = fitOutcome(fit, { start: input.start ?? false, where, newName: input.newName });
  if (outcome.refusal !== undefined) {
    throw new KvmCloneError(
      ErrorCode.INSUFFICIENT_RESOURCES_ERROR,
      outcome.refusal,
      { host: where, shortfalls: fit.shortfalls },
      { retryable: false },
    );
  }
  return outcome.warnings;
}

/**
 * The pool the disks go into must be one the host lets clones write into, or one whose directory lies under the
 * writable roots.
 */
async function requireWritablePool(session: SshSession, libvirt: Libvirt, pool: string): Promise<string> {
  const target = await libvirt.poolTargetPath(pool);
  if (writablePools(session.host).includes(pool)) return target;
  await assertWritableDirectory(session, target, `the directory of storage pool '${pool}'`).catch((error: unknown) => {
    throw new KvmCloneError(
      ErrorCode.INVALID_PATH,
      `storage pool '${pool}' is not one clones may write into on ${describeHost(session.host)} (writable pools: ${writablePools(session.host).join(', ') || 'none'})`,
      {
        pool,
        cause: error instanceof Error ? error.message : String(error),
      },
      { retryable: false },
    );
  });
  return target;
}

export function checkDestination(deps: ActivityDeps) {
  /**
   * Preflight on the destination before any byte moves: the name is free (or may be
   * replaced), the networks exist, libvirt can run the domain, and the disks fit.
   * Reads only.
   */
  return async function checkDestination(input: CheckDestinationInput): Promise<DestinationCheck> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const where = describeHost(session.host);
        const libvirt = new Libvirt(session);
        let replaced: DestinationCheck['replaced'];
        if ((await libvirt.domainState(input.newName)) !== undefined) {
          if (!input.force) {
            throw new KvmCloneError(
              ErrorCode.VM_EXISTS_ERROR,
              `a VM named '${input.newName}' already exists on ${where}; use force to replace it`,
              { vmName: input.newName, host: where },
            );
          }
          replaced = {
            vmName: input.newName,
            ...(await replaceableFiles(
              session,
              input.newName,
              await libvirt.dumpXml(input.newName, { inactive: true }),
            )),
          };
        }
        await libvirt.checkEmulator(input.machine);
        const warnings = await resourceWarnings(libvirt, where, input);
        for (const network of input.networks) {
          const exists =
            network.kind === 'network'
              ? await libvirt.networkExists(network.name)
              : await libvirt.bridgeExists(network.name);
          if (!exists) {
            throw new KvmCloneError(
              ErrorCode.NETWORK_ERROR,
              `${where} has no ${network.kind} named '${network.name}'; map it to one that exists with networkMap`,
              {
                kind: network.kind,
                name: network.name,
              },
            );
          }
        }
        // An explicit directory wins, then the operation's pool, then the host's own pool or directory.
        const pool = input.destDir ? undefined : (input.destPool ?? session.host.storagePool);
        const destDir =
          input.destDir ?? (pool ? await requireWritablePool(session, libvirt, pool) : session.host.storageDir);
        // Under the writable roots as written and as the host resolves it: a symlink inside a root leads nowhere else.
        const resolvedDir = await assertWritableDirectory(session, destDir, 'destination directory');
        const disk = new RemoteDisk(session);
        if (resolvedDir.kind !== 'directory') {
          throw new KvmCloneError(
            ErrorCode.INVALID_PATH,
            `destination directory ${destDir} does not exist on ${where}`,
            { path: destDir },
          );
        }
        for (const fileName of input.fileNames) {
          if (!isSafeFileName(fileName)) {
            throw new KvmCloneError(
              ErrorCode.INVALID_PATH,
              `destination file name ${JSON.stringify(fileName)} is not a single safe path component`,
              { fileName },
              { retryable: false },
            );
          }
        }
        for (const fileName of input.fileNames) {
          const path = joinPath(destDir, fileName);
          if (replaced?.paths.includes(path)) continue;
          if (await disk.exists(path)) {
            throw new KvmCloneError(ErrorCode.VM_EXISTS_ERROR, `destination file ${path} already exists on ${where}`, {
              path,
            });
          }
        }
        const freeBytes = await disk.freeSpace(destDir);
        const required = input.bytesNeeded + spaceMargin(input.bytesNeeded);
        if (freeBytes < required) {
          throw new KvmCloneError(
            ErrorCode.DISK_SPACE_ERROR,
            `not enough space in ${destDir} on ${where}: ${formatBytes(required)} needed (with margin), ${formatBytes(freeBytes)} free`,
            {
              required,
              freeBytes,
            },
          );
        }
        for (const { path, reason } of replaced?.kept ?? [])
          warnings.push(`force: ${path} of the replaced VM '${input.newName}' is left in place: ${reason}`);
        for (const path of input.referencedFiles) {
          if (!(await disk.exists(path)))
            warnings.push(
              `${path} is referenced by the clone but missing on ${where}; the clone starts once it is there (or copy it with copyCdroms)`,
            );
        }
        const tpmDir = input.tpmUuid ? await tpmStateDir(session, input.tpmUuid) : undefined;
        if (tpmDir && (await disk.exists(tpmDir))) {
          throw new KvmCloneError(
            ErrorCode.VM_EXISTS_ERROR,
            `TPM state directory ${tpmDir} already exists on ${where}`,
            { path: tpmDir },
          );
        }
        const tools = await remoteTools(session);
        return {
          destDir,
          freeBytes,
          ...(replaced ? { replaced } : {}),
          ...(tpmDir ? { tpmDir } : {}),
          ...(pool ? { pool } : {}),
          compressors: { zstd: tools.zstd, lz4: tools.lz4 },
          warnings,
        };
      }),
    );
  };
}
