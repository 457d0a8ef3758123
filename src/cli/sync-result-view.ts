import { formatBytes } from '../domain/sizes';
import type { SyncResult } from '../domain/sync-result';
import { table } from './table';

/** What a finished sync did, for people. */
export function syncResultText(result: SyncResult): string {
  const lines = [
    `synced ${result.vmName} (${result.sourceHost}) into ${result.targetName} (${result.destinationHost}) in ${result.durationSeconds.toFixed(1)} s`,
    `compared ${formatBytes(result.bytesCompared)}, ${formatBytes(result.bytesUnchanged)} unchanged; sent ${formatBytes(result.bytesTransferred)} in ${result.blocksSynchronized} blocks of ${formatBytes(result.blockSize)}; ` +
      `change tracking ${result.changeTracking}${result.hashTool === 'none' ? '' : ` (${result.hashTool})`}, consistency ${result.consistency}, compression ${result.compression}`,
  ];
  if (result.files.length > 0) {
    lines.push(
      table(
        ['TARGET', 'ROLE', 'ACTION', 'TRACKING', 'SENT', 'UNCHANGED', 'SHA-256'],
        result.files.map((file) => [
          file.target,
          file.role,
          file.action,
          file.changeTracking,
          formatBytes(file.bytesTransferred),
          formatBytes(file.bytesUnchanged),
          file.digest
            ? `${file.digest.destination.slice(0, 16)}… (verified)`
            : file.verification === 'synced-ranges'
              ? 'synced ranges verified'
              : 'not verified',
        ]),
      ).trimEnd(),
    );
  }
  if (result.checkpoint) lines.push(`left checkpoint ${result.checkpoint} on the source for the next sync`);
  lines.push(...result.warnings.map((warning) => `warning: ${warning}`));
  lines.push(`operation ${result.operationId}`);
  return `${lines.join('\n')}\n`;
}

export function isSyncResult(result: object): result is SyncResult {
  return 'targetName' in result && 'blocksSynchronized' in result;
}
