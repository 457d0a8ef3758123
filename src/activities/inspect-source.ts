import { ErrorCode, KvmCloneError } from '../errors';
import { isCopiedDisk, unsupportedDisks } from '../domain/clone-plan';
import type { SourceFile } from '../domain/copied-file';
import { parseDomainXml, type DomainDisk } from '../domain/domain-xml';
import type { HostRef } from '../domain/schemas/host';
import { Libvirt, type DomainState } from '../hosts/libvirt';
import { LiveSnapshot } from '../hosts/live-snapshot';
import { RemoteDisk } from '../hosts/remote-disk';
import { remoteTools } from '../hosts/remote-tools';
import { describeHost, type SshSession } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface InspectSourceInput {
  source: HostRef;
  vmName: string;
  copyCdroms: boolean;
  excludeDisks: string[];
}

export interface SourceInspection {
  state: DomainState;
  /** The persistent definition, read before anything touched the domain. */
  inactiveXml: string;
  files: SourceFile[];
  /** A running guest whose agent answers can have its filesystems frozen for the snapshot. */
  guestAgent: boolean;
  compressors: { zstd: boolean; lz4: boolean };
  warnings: string[];
}

/** States a clone can start from: a stopped domain, or one whose disks can be snapshotted live. */
const copyableStates: DomainState[] = ['shut off', 'running', 'paused'];

async function resolveDiskPath(libvirt: Libvirt, disk: DomainDisk): Promise<string> {
  if (disk.type === 'volume' && disk.pool && disk.volume) return libvirt.volumePath(disk.pool, disk.volume);
  return disk.sourcePath!;
}

async function describeFile(remoteDisk: RemoteDisk, path: string, missing: () => string): Promise<{ fileSize: number; format: string; virtualSize: number; allocatedSize: number }> {
  const fileSize = await remoteDisk.fileSize(path);
  if (fileSize === undefined) throw new KvmCloneError(ErrorCode.CLONE_ERROR, missing(), { path }, { retryable: false });
  const info = await remoteDisk.imageInfo(path);
  return { fileSize, format: info.format, virtualSize: info.virtualSize, allocatedSize: info.allocatedSize };
}

/** A disk's image and every layer below it, top first. */
async function diskFiles(remoteDisk: RemoteDisk, vmName: string, disk: DomainDisk, path: string): Promise<SourceFile[]> {
  const missing = (file: string) => () => `disk ${disk.target} of VM '${vmName}' is missing: ${file}`;
  const chain = await remoteDisk.backingChain(path);
  const files: SourceFile[] = [];
  for (const [depth, layer] of chain.entries()) {
    const described = await describeFile(remoteDisk, layer.path, missing(layer.path));
    const file: SourceFile = { role: depth === 0 ? (disk.device === 'cdrom' ? 'cdrom' : 'disk') : 'backing', target: disk.target, depth, sourcePath: layer.path, ...described };
    if (layer.backingFormat) file.backingFormat = layer.backingFormat;
    files.push(file);
  }
  return files;
}

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
          throw new KvmCloneError(ErrorCode.CLONE_ERROR, `VM '${input.vmName}' on ${describeHost(session.host)} is ${state}; clone it when it is running or shut off`, {
            vmName: input.vmName,
            state,
          }, { retryable: false });
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
        const remoteDisk = new RemoteDisk(session);
        const files: SourceFile[] = [];
        for (const disk of domain.disks.filter((each) => isCopiedDisk(each, selection))) {
          files.push(...(await diskFiles(remoteDisk, input.vmName, disk, await resolveDiskPath(libvirt, disk))));
        }
        const warnings: string[] = [];
        if (domain.nvramPath) {
          if (await remoteDisk.exists(domain.nvramPath)) {
            const size = (await remoteDisk.fileSize(domain.nvramPath)) ?? 0;
            files.push({ role: 'nvram', target: 'nvram', depth: 0, sourcePath: domain.nvramPath, format: 'raw', fileSize: size, virtualSize: size, allocatedSize: size });
          } else {
            // libvirt creates the store from its template on first boot; there is nothing to copy yet.
            warnings.push(`the UEFI variable store ${domain.nvramPath} does not exist yet; the clone starts from the firmware's template`);
          }
        }
        if (domain.tpm?.backend === 'emulator') warnings.push('the emulated TPM state is not copied; the clone starts with a fresh TPM');
        const guestAgent = state === 'running' && (await new LiveSnapshot(session, input.vmName).guestAgentResponds());
        const tools = await remoteTools(session);
        return { state, inactiveXml, files, guestAgent, compressors: { zstd: tools.zstd, lz4: tools.lz4 }, warnings };
      }),
    );
  };
}
