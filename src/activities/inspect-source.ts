import { ErrorCode, KvmCloneError } from '../errors';
import { isCopiedDisk, unsupportedDisks, type SourceDisk } from '../domain/clone-plan';
import { parseDomainXml } from '../domain/domain-xml';
import type { HostRef } from '../domain/schemas/host';
import { MiB, summarizeExtents, totalLength } from '../domain/transfer-plan';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { describeHost } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface InspectSourceInput {
  source: HostRef;
  vmName: string;
}

export interface SourceInspection {
  state: string;
  inactiveXml: string;
  disks: SourceDisk[];
}

const windowSize = 64 * MiB;

export function inspectSource(deps: ActivityDeps) {
  /** Finds the source VM, checks it can be copied, and maps where its disks hold data. */
  return async function inspectSource(input: InspectSourceInput): Promise<SourceInspection> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const libvirt = new Libvirt(session);
        const state = await libvirt.requireDomainState(input.vmName);
        if (state !== 'shut off') {
          throw new KvmCloneError(ErrorCode.CLONE_ERROR, `VM '${input.vmName}' on ${describeHost(session.host)} is ${state}; shut it down before cloning`, {
            vmName: input.vmName,
            state,
          });
        }
        const inactiveXml = await libvirt.dumpXml(input.vmName, { inactive: true });
        const domain = parseDomainXml(inactiveXml);
        const unsupported = unsupportedDisks(domain.disks);
        if (unsupported.length > 0) {
          throw new KvmCloneError(
            ErrorCode.CLONE_ERROR,
            `VM '${input.vmName}' has disks kvm-clone cannot copy: ${unsupported.map((disk) => `${disk.target} (type ${disk.type})`).join(', ')}`,
            { disks: unsupported.map((disk) => disk.target) },
          );
        }
        const remoteDisk = new RemoteDisk(session);
        const disks: SourceDisk[] = [];
        for (const disk of domain.disks.filter(isCopiedDisk)) {
          const sourcePath = disk.sourcePath!;
          const fileSize = await remoteDisk.fileSize(sourcePath);
          if (fileSize === undefined) {
            throw new KvmCloneError(ErrorCode.CLONE_ERROR, `disk ${disk.target} of VM '${input.vmName}' is missing: ${sourcePath}`, { path: sourcePath });
          }
          const info = await remoteDisk.imageInfo(sourcePath);
          if (info.backingFile) {
            // Copying only the top layer would define a VM whose disk points at a file the destination lacks.
            throw new KvmCloneError(ErrorCode.CLONE_ERROR, `disk ${disk.target} of VM '${input.vmName}' has a backing file (${info.backingFile}); backing chains are not supported yet`, {
              path: sourcePath,
            });
          }
          const extents = await remoteDisk.dataExtents(sourcePath, { start: 0, length: fileSize });
          disks.push({
            target: disk.target,
            sourcePath,
            format: info.format,
            fileSize,
            virtualSize: info.virtualSize,
            allocatedSize: info.allocatedSize,
            dataWindows: summarizeExtents(extents, windowSize),
            dataBytes: totalLength(extents),
          });
        }
        return { state, inactiveXml, disks };
      }),
    );
  };
}
