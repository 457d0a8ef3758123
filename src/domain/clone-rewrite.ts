import { destinationBackingFileName, destinationDiskFileName, destinationNvramFileName } from './clone-plan';
import type { PlannedFile, SourceFile } from './copied-file';
import type { CloneRewrite } from './domain-xml';

/** The name a copied file takes in the destination directory, by what it is to the domain. */
export function destinationFileName(newName: string, file: SourceFile): string {
  switch (file.role) {
    case 'nvram':
      return destinationNvramFileName(newName);
    case 'backing':
      return destinationBackingFileName(newName, file.target, file.depth, file.sourcePath);
    case 'tpm':
      // A path inside the clone's TPM state directory, as in the source's; joinPath checks it stays inside.
      return file.target;
    default:
      return destinationDiskFileName(newName, file);
  }
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export interface CloneRewriteRequest {
  newName: string;
  files: PlannedFile[];
  logDir: string;
  networkMap: Record<string, string>;
  excludeDisks: string[];
  /** Disks become volumes of this pool instead of plain files. */
  destPool?: string;
  macAddresses?: string[];
  /** Kept instead of letting libvirt pick one: the clone's TPM state directory is named by it. */
  uuid?: string;
}

/** How the source's definition turns into the clone's, from the copy plan. */
export function cloneRewriteFor(request: CloneRewriteRequest): CloneRewrite {
  const tops = request.files.filter((file) => file.role === 'disk' || file.role === 'cdrom');
  const nvram = request.files.find((file) => file.role === 'nvram');
  const rewrite: CloneRewrite = {
    newName: request.newName,
    diskPaths: Object.fromEntries(tops.map((file) => [file.target, file.destinationPath])),
    logDir: request.logDir,
    networkMap: request.networkMap,
    removeDisks: request.excludeDisks,
  };
  if (request.macAddresses) rewrite.macAddresses = request.macAddresses;
  if (request.uuid) rewrite.uuid = request.uuid;
  if (nvram) rewrite.nvramPath = nvram.destinationPath;
  if (request.destPool) {
    const pool = request.destPool;
    rewrite.volumeDisks = Object.fromEntries(
      tops
        .filter((file) => file.role === 'disk')
        .map((file) => [file.target, { pool, volume: baseName(file.destinationPath) }]),
    );
  }
  return rewrite;
}
