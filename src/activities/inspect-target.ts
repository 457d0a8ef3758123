import { ErrorCode, KvmCloneError } from '../errors';
import type { CheckpointRecord } from '../domain/change-tracking';
import { directoryOf } from '../domain/paths';
import { cloneRecordOf, fileOutsideRecord } from '../domain/clone-record';
import type { SourceFile } from '../domain/copied-file';
import { parseDomainXml } from '../domain/domain-xml';
import type { HostRef } from '../domain/schemas/host';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { remoteTools } from '../hosts/remote-tools';
import { describeHost, type SshSession } from '../hosts/ssh-session';
import { SyncMarker } from '../hosts/sync-marker';
import { tpmStateDir } from '../hosts/tpm-state';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { listDomainFiles } from './domain-files';
import { assertWritable, requireRegularFile } from './writable-paths';

export interface InspectTargetInput {
  destination: HostRef;
  targetName: string;
  /** Marks the target incomplete (after the checks) so nobody starts it mid-sync. */
  operationId: string;
}

export interface TargetInspection {
  inactiveXml: string;
  files: SourceFile[];
  /** An earlier sync that did not finish; this one completes it. */
  unfinishedOperation?: string;
  freeBytes: number;
  /** Where the target's TPM state lives (named by its UUID), for state the source has and it lacks. */
  tpmDir?: string;
  tools: { zstd: boolean; lz4: boolean; python3: boolean; perl: boolean };
  /** Left by the last completed checkpoint sync: which source checkpoint the disks equal. */
  checkpoint?: CheckpointRecord;
  /** Size and times of each disk's top image now, by path, to compare with the record's. */
  fingerprints: Record<string, string>;
}

/**
 * A sync writes into every file of the target, so each must be the target's own: under
 * the host's writable roots, a regular file (1302 otherwise), and listed in the record of
 * the clone that made the target (1201 otherwise: a shared base image, a file someone
 * attached by hand, a domain kvm-clone never made). Reads only.
 */
async function requireOwnFiles(
  session: SshSession,
  targetName: string,
  inactiveXml: string,
  files: readonly SourceFile[],
  tpmDir: string | undefined,
): Promise<void> {
  const where = describeHost(session.host);
  const resolved = await assertWritable(
    session,
    files.map((file) => file.sourcePath),
    `file of sync target '${targetName}'`,
  );
  for (const path of resolved) requireRegularFile(path, where, `file of sync target '${targetName}'`);
  const record = cloneRecordOf(inactiveXml);
  if (!record) {
    throw new KvmCloneError(
      ErrorCode.SYNC_ERROR,
      `sync target '${targetName}' on ${where} carries no record of the kvm-clone clone that made it; a sync writes only into files a clone made, so clone the VM there first`,
      { vmName: targetName },
      { retryable: false },
    );
  }
  const outside = fileOutsideRecord(record, files, tpmDir);
  if (outside) {
    throw new KvmCloneError(
      ErrorCode.SYNC_ERROR,
      `sync target '${targetName}' on ${where} uses ${outside.file.sourcePath}: ${outside.reason}; a sync never writes into it`,
      { vmName: targetName, path: outside.file.sourcePath },
      { retryable: false },
    );
  }
}

export function inspectTarget(deps: ActivityDeps) {
  /**
   * Finds the copy a sync updates: it must exist and be shut off. Then marks it
   * incomplete until the sync has finished.
   */
  return async function inspectTarget(input: InspectTargetInput): Promise<TargetInspection> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const where = describeHost(session.host);
        const libvirt = new Libvirt(session);
        const state = await libvirt.domainState(input.targetName);
        if (state === undefined) {
          throw new KvmCloneError(
            ErrorCode.VM_NOT_FOUND_ERROR,
            `sync target '${input.targetName}' does not exist on ${where}; clone the VM there first`,
            { vmName: input.targetName },
            { retryable: false },
          );
        }
        if (state !== 'shut off') {
          throw new KvmCloneError(
            ErrorCode.SYNC_ERROR,
            `sync target '${input.targetName}' on ${where} is ${state}; shut it down first, a sync never writes under a running VM`,
            {
              vmName: input.targetName,
              state,
            },
            { retryable: false },
          );
        }
        const inactiveXml = await libvirt.dumpXml(input.targetName, { inactive: true });
        const domain = parseDomainXml(inactiveXml);
        const { files } = await listDomainFiles(session, input.targetName, domain, {
          copyCdroms: false,
          excludeDisks: [],
        });
        const tpmDir = domain.uuid ? await tpmStateDir(session, domain.uuid) : undefined;
        await requireOwnFiles(session, input.targetName, inactiveXml, files, tpmDir);
        const marker = new SyncMarker(session, input.targetName);
        const unfinished = await marker.incompleteOperation();
        const checkpoint = await marker.checkpointRecord();
        const fingerprints = await new RemoteDisk(session).fingerprints(
          files.filter((file) => file.role === 'disk' && file.depth === 0).map((file) => file.sourcePath),
        );
        await marker.markIncomplete(input.operationId);
        const firstDisk = files[0]?.sourcePath ?? session.host.storageDir;
        const freeBytes = await new RemoteDisk(session).freeSpace(directoryOf(firstDisk));
        const tools = await remoteTools(session);
        return {
          inactiveXml,
          files,
          ...(unfinished && unfinished !== input.operationId ? { unfinishedOperation: unfinished } : {}),
          freeBytes,
          ...(tpmDir ? { tpmDir } : {}),
          tools: { zstd: tools.zstd, lz4: tools.lz4, python3: tools.python3, perl: tools.perl },
          ...(checkpoint ? { checkpoint } : {}),
          fingerprints,
        };
      }),
    );
  };
}
