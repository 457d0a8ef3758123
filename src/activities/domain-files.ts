import { ErrorCode, KvmCloneError } from '../errors';
import { isCopiedDisk, type DiskSelection } from '../domain/clone-plan';
import type { SourceFile } from '../domain/copied-file';
import type { DomainDisk, DomainSummary } from '../domain/domain-xml';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import type { SshSession } from '../hosts/ssh-session';
import { tpmStateDir, tpmStateFiles } from '../hosts/tpm-state';

async function resolveDiskPath(libvirt: Libvirt, disk: DomainDisk): Promise<string> {
  if (disk.type === 'volume' && disk.pool && disk.volume) return libvirt.volumePath(disk.pool, disk.volume);
  return disk.sourcePath!;
}

/**
 * A disk's image and every layer below it, top first. The top's format is the XML's
 * `<driver type>` (libvirt reads a disk without one as raw): never what the file's first
 * bytes claim, which the guest wrote.
 */
async function diskFiles(
  remoteDisk: RemoteDisk,
  vmName: string,
  disk: DomainDisk,
  path: string,
  overlayDir: string | undefined,
): Promise<SourceFile[]> {
  const chain = await remoteDisk.backingChain(path, disk.format ?? 'raw', [undefined, ...(disk.backingFormats ?? [])]);
  const files: SourceFile[] = [];
  for (const [depth, layer] of chain.entries()) {
    // qemu-img has described every layer already; only the apparent size is left to ask.
    const fileSize = await remoteDisk.fileSize(layer.path);
    if (fileSize === undefined)
      throw new KvmCloneError(
        ErrorCode.CLONE_ERROR,
        `disk ${disk.target} of VM '${vmName}' is missing: ${layer.path}`,
        { path: layer.path },
        { retryable: false },
      );
    const file: SourceFile = {
      role: depth === 0 ? (disk.device === 'cdrom' ? 'cdrom' : 'disk') : 'backing',
      target: disk.target,
      depth,
      sourcePath: layer.path,
      format: layer.format,
      fileSize,
      virtualSize: layer.virtualSize,
      allocatedSize: layer.allocatedSize,
    };
    if (layer.backingFormat) file.backingFormat = layer.backingFormat;
    if (depth === 0 && disk.type === 'block') {
      file.blockDevice = true;
      // What a device holds is unknown until it is read: the space check counts all of it.
      file.allocatedSize = fileSize;
      if (overlayDir !== undefined) file.overlayDir = overlayDir;
    }
    files.push(file);
  }
  return files;
}

/**
 * Every file of a domain that a copy carries, as found on its host: each selected disk's
 * image with its backing layers, and the UEFI variable store. Reads only. `overlayDir` is
 * where a live snapshot of a block-device disk would put its overlay.
 */
export async function listDomainFiles(
  session: SshSession,
  vmName: string,
  domain: DomainSummary,
  selection: DiskSelection,
  options: { overlayDir?: string } = {},
): Promise<{ files: SourceFile[]; warnings: string[] }> {
  const libvirt = new Libvirt(session);
  const remoteDisk = new RemoteDisk(session);
  const files: SourceFile[] = [];
  for (const disk of domain.disks.filter((each) => isCopiedDisk(each, selection))) {
    const path = await resolveDiskPath(libvirt, disk);
    files.push(...(await diskFiles(remoteDisk, vmName, disk, path, options.overlayDir)));
  }
  const warnings: string[] = [];
  if (domain.nvramPath) {
    if (await remoteDisk.exists(domain.nvramPath)) {
      const size = (await remoteDisk.fileSize(domain.nvramPath)) ?? 0;
      files.push({
        role: 'nvram',
        target: 'nvram',
        depth: 0,
        sourcePath: domain.nvramPath,
        format: 'raw',
        fileSize: size,
        virtualSize: size,
        allocatedSize: size,
      });
    } else {
      // libvirt creates the store from its template on first boot; there is nothing to copy yet.
      warnings.push(
        `the UEFI variable store ${domain.nvramPath} of '${vmName}' does not exist yet; it starts from the firmware's template`,
      );
    }
  }
  if (domain.tpm?.backend === 'emulator' && domain.uuid) {
    const dir = await tpmStateDir(session, domain.uuid);
    const stateFiles = await tpmStateFiles(session, dir);
    if (stateFiles.length === 0)
      warnings.push(`the emulated TPM of '${vmName}' has no state yet; the copy starts with a fresh TPM`);
    for (const relative of stateFiles) {
      const path = `${dir}/${relative}`;
      const size = (await remoteDisk.fileSize(path)) ?? 0;
      files.push({
        role: 'tpm',
        target: relative,
        depth: 0,
        sourcePath: path,
        format: 'raw',
        fileSize: size,
        virtualSize: size,
        allocatedSize: size,
      });
    }
  }
  return { files, warnings };
}
