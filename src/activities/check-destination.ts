import { ErrorCode, KvmCloneError } from '../errors';
import { joinPath } from '../domain/clone-plan';
import type { HostRef } from '../domain/schemas/host';
import { formatBytes } from '../domain/sizes';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { describeHost } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface CheckDestinationInput {
  destination: HostRef;
  newName: string;
  /** Directory for disks; absent means the host's configured storage directory. */
  destDir?: string;
  /** Bytes the copies will occupy. */
  bytesNeeded: number;
  /** Names of the disk files inside the destination directory. */
  diskFileNames: string[];
}

export interface DestinationCheck {
  destDir: string;
  freeBytes: number;
}

/** Free space kept beyond the copy itself, so a clone never fills a host's disk. */
export function spaceMargin(bytesNeeded: number): number {
  return Math.max(256 * 1024 * 1024, Math.ceil(bytesNeeded * 0.05));
}

export function checkDestination(deps: ActivityDeps) {
  /** Preflight on the destination before any byte moves: the name is free and the disks fit. */
  return async function checkDestination(input: CheckDestinationInput): Promise<DestinationCheck> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const where = describeHost(session.host);
        if ((await new Libvirt(session).domainState(input.newName)) !== undefined) {
          throw new KvmCloneError(ErrorCode.VM_EXISTS_ERROR, `a VM named '${input.newName}' already exists on ${where}`, { vmName: input.newName, host: where });
        }
        const destDir = input.destDir ?? session.host.storageDir;
        const disk = new RemoteDisk(session);
        if (!(await disk.isDirectory(destDir))) {
          throw new KvmCloneError(ErrorCode.INVALID_PATH, `destination directory ${destDir} does not exist on ${where}`, { path: destDir });
        }
        for (const fileName of input.diskFileNames) {
          const path = joinPath(destDir, fileName);
          if (await disk.exists(path)) {
            throw new KvmCloneError(ErrorCode.VM_EXISTS_ERROR, `destination file ${path} already exists on ${where}`, { path });
          }
        }
        const freeBytes = await disk.freeSpace(destDir);
        const required = input.bytesNeeded + spaceMargin(input.bytesNeeded);
        if (freeBytes < required) {
          throw new KvmCloneError(
            ErrorCode.DISK_SPACE_ERROR,
            `not enough space in ${destDir} on ${where}: ${formatBytes(required)} needed (with margin), ${formatBytes(freeBytes)} free`,
            { required, freeBytes },
          );
        }
        return { destDir, freeBytes };
      }),
    );
  };
}
