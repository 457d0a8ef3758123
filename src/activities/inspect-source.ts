import { ErrorCode, KvmCloneError } from '../errors';
import { isCopiedDisk, unsupportedDisks } from '../domain/clone-plan';
import { enforceDomainPolicy } from '../domain/domain-policy';
import type { SourceFile } from '../domain/copied-file';
import { parseDomainXml } from '../domain/domain-xml';
import { writableRoots, type HostRef } from '../domain/schemas/host';
import { Libvirt, type DomainState } from '../hosts/libvirt';
import { LiveSnapshot } from '../hosts/live-snapshot';
import { RemoteDisk } from '../hosts/remote-disk';
import { remoteTools } from '../hosts/remote-tools';
import { describeHost, type SshSession } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { listDomainFiles } from './domain-files';

export interface InspectSourceInput {
  source: HostRef;
  vmName: string;
  copyCdroms: boolean;
  excludeDisks: string[];
  /**
   * Where the clone goes, when known: the domain's host paths are then checked against
   * the destination's writable directories and the worker's hostFiles before anything is
   * copied. Device kinds are checked either way.
   */
  destination?: HostRef;
}

export interface SourceInspection {
  state: DomainState;
  /** The persistent definition, read before anything touched the domain. Without secrets (no graphics passwords). */
  inactiveXml: string;
  files: SourceFile[];
  /** A running guest whose agent answers can have its filesystems frozen for the snapshot. */
  guestAgent: boolean;
  compressors: { zstd: boolean; lz4: boolean };
  /** What can hash blocks in place, for a sync's delta. */
  hashers: { python3: boolean; perl: boolean };
  warnings: string[];
  /**
   * For a shut-off source: each file's size, modification and change time, by path
   * (RemoteDisk.fingerprints), so a clone can tell afterwards whether the files changed
   * while it read them (a VM started meanwhile writes, and libvirt relabels its disks).
   */
  fingerprints?: Record<string, string>;
}

/** States a clone can start from: a stopped domain, or one whose disks can be snapshotted live. */
const copyableStates: DomainState[] = ['shut off', 'running', 'paused'];

export function inspectSource(deps: ActivityDeps) {
  /**
   * Finds the source VM and lists every file the clone copies, with sizes and formats.
   * Reads only: nothing on the source host changes.
   */
  return async function inspectSource(input: InspectSourceInput): Promise<SourceInspection> {
    return activityBody(() =>
      withHost(deps, input.source, async (session: SshSession) => {
        const libvirt = new Libvirt(session);
        const state = await libvirt.requireDomainState(input.vmName);
        if (!copyableStates.includes(state)) {
          throw new KvmCloneError(
            ErrorCode.CLONE_ERROR,
            `VM '${input.vmName}' on ${describeHost(session.host)} is ${state}; clone it when it is running or shut off`,
            {
              vmName: input.vmName,
              state,
            },
            { retryable: false },
          );
        }
        const inactiveXml = await libvirt.dumpXml(input.vmName, { inactive: true });
        const domain = parseDomainXml(inactiveXml);
        const selection = { copyCdroms: input.copyCdroms, excludeDisks: input.excludeDisks };
        const unsupported = unsupportedDisks(domain.disks, selection);
        if (unsupported.length > 0) {
          throw new KvmCloneError(
            ErrorCode.CLONE_ERROR,
            `VM '${input.vmName}' has disks kvm-clone cannot copy: ${unsupported.map((disk) => `${disk.target} (type ${disk.type})`).join(', ')}; leave them out with excludeDisks`,
            { disks: unsupported.map((disk) => disk.target) },
            { retryable: false },
          );
        }
        // Before a byte is copied: the domain must not reach the destination host's resources.
        enforceDomainPolicy(
          inactiveXml,
          {
            policy: deps.policy,
            ...(input.destination === undefined
              ? {}
              : { writableRoots: writableRoots(deps.hosts.resolve(input.destination)) }),
            selection: {
              ...selection,
              copiedTargets: domain.disks.filter((disk) => isCopiedDisk(disk, selection)).map((disk) => disk.target),
            },
          },
          input.vmName,
        );
        const { files, warnings } = await listDomainFiles(session, input.vmName, domain, selection, {
          // A live snapshot of a block device puts its overlay in the source's storage directory.
          overlayDir: deps.hosts.resolve(input.source).storageDir,
        });
        const guestAgent = state === 'running' && (await new LiveSnapshot(session, input.vmName).guestAgentResponds());
        const tools = await remoteTools(session);
        const fingerprints =
          state === 'shut off' && files.length > 0
            ? await new RemoteDisk(session).fingerprints(files.map((file) => file.sourcePath))
            : undefined;
        return {
          state,
          inactiveXml,
          files,
          guestAgent,
          compressors: { zstd: tools.zstd, lz4: tools.lz4 },
          hashers: { python3: tools.python3, perl: tools.perl },
          warnings,
          ...(fingerprints ? { fingerprints } : {}),
        };
      }),
    );
  };
}
