import { randomMac } from './clone-plan';
import { directoryOf } from './paths';
import type { FileRole } from './copied-file';
import { parseDomainXml, type CloneRewrite } from './domain-xml';

export interface SyncRewriteInput {
  targetName: string;
  preserveMac: boolean;
  sourceXml: string;
  targetXml: string;
  /** The synced files and where each lives on the target. */
  files: readonly { role: FileRole; target: string; destinationPath: string }[];
  /** For MACs of interfaces the target does not have yet; the workflow's deterministic Math.random. */
  random: () => number;
}

/**
 * The source's definition with the target's identity: its name, UUID, MACs (unless
 * preserveMac), disk and NVRAM paths, log directory and networks.
 */
export function syncRewrite(input: SyncRewriteInput): CloneRewrite {
  const source = parseDomainXml(input.sourceXml);
  const target = parseDomainXml(input.targetXml);
  const tops = input.files.filter((file) => file.role === 'disk');
  const nvram = input.files.find((file) => file.role === 'nvram');
  const networkMap: Record<string, string> = {};
  source.interfaces.forEach((iface, index) => {
    const kept = target.interfaces[index];
    if (iface.source && kept?.source && kept.type === iface.type) networkMap[iface.source] = kept.source;
  });
  const volumeDisks = Object.fromEntries(
    target.disks
      .filter((disk) => disk.type === 'volume' && disk.pool && disk.volume)
      .map((disk) => [disk.target, { pool: disk.pool!, volume: disk.volume! }]),
  );
  const rewrite: CloneRewrite = {
    newName: input.targetName,
    diskPaths: Object.fromEntries(tops.map((file) => [file.target, file.destinationPath])),
    logDir: directoryOf(target.logFiles[0] ?? tops[0]?.destinationPath ?? '/'),
    networkMap,
    volumeDisks,
  };
  if (target.uuid) rewrite.uuid = target.uuid;
  if (!input.preserveMac)
    rewrite.macAddresses = source.interfaces.map(
      (_, index) => target.interfaces[index]?.mac ?? randomMac(input.random),
    );
  if (nvram) rewrite.nvramPath = nvram.destinationPath;
  return rewrite;
}
