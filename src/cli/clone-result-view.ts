import type { CloneResult, ClonePlan } from '../domain/clone-result';
import { formatBytes } from '../domain/sizes';
import { table } from './table';

/** A dry run's plan: the files that would be copied, where to, and the definition's diff. */
export function planText(result: CloneResult, plan: ClonePlan): string {
  const files = table(
    ['TARGET', 'ROLE', 'FORMAT', 'SIZE', 'DATA', 'SOURCE', 'DESTINATION'],
    plan.files.map((file) => [
      file.target,
      file.role,
      file.format,
      formatBytes(file.virtualSize),
      formatBytes(file.dataBytes),
      file.sourcePath,
      file.destinationPath,
    ]),
  );
  const lines = [
    `dry run: clone ${result.vmName} (${result.sourceHost}) to ${result.newName} (${result.destinationHost}); nothing was changed`,
    '',
    files.trimEnd(),
    '',
    `to transfer: ${formatBytes(plan.bytesToTransfer)} into ${plan.destinationDir} (${formatBytes(plan.destinationFreeBytes)} free)`,
    `consistency: ${plan.consistency}, compression: ${plan.compression}${plan.replaces ? `, replaces VM '${plan.replaces}'` : ''}`,
    ...result.warnings.map((warning) => `warning: ${warning}`),
    '',
    plan.xmlDiff.trimEnd(),
  ];
  return `${lines.join('\n')}\n`;
}

/** What a finished clone did, for people. */
export function cloneResultText(result: CloneResult): string {
  if (result.dryRun && result.plan) return planText(result, result.plan);
  const lines = [
    `cloned ${result.vmName} (${result.sourceHost}) to ${result.newName} (${result.destinationHost}) in ${result.durationSeconds.toFixed(1)} s${result.started ? '; started' : ''}${result.replaced ? `; replaced '${result.replaced}'` : ''}`,
    `sent ${formatBytes(result.bytesTransferred)}, skipped ${formatBytes(result.bytesSkippedAsHoles)} of holes${result.bytesResumed ? `, resumed ${formatBytes(result.bytesResumed)}` : ''}; consistency ${result.consistency}, compression ${result.compression}`,
  ];
  if (result.files.length > 0) {
    lines.push(
      table(
        ['TARGET', 'ROLE', 'SENT', 'DESTINATION', 'SHA-256'],
        result.files.map((file) => [
          file.target,
          file.role,
          formatBytes(file.bytesTransferred),
          file.destinationPath,
          file.digest ? `${file.digest.destination.slice(0, 16)}… (verified)` : 'not verified',
        ]),
      ).trimEnd(),
    );
  }
  lines.push(...result.warnings.map((warning) => `warning: ${warning}`));
  lines.push(`operation ${result.operationId}`);
  return `${lines.join('\n')}\n`;
}
