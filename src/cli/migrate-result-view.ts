import type { MigrateResult } from '../domain/migration';
import { formatBytes } from '../domain/sizes';
import { table } from './table';

/** How the cutover went: what it cost, or that a shut-off VM needed none. */
function cutoverLine(result: MigrateResult): string {
  if (result.mode === 'live')
    return `downtime ${result.downtimeSeconds.toFixed(2)} s at libvirt's switch-over (its own measure)`;
  if (!result.passes.some((pass) => pass.kind === 'final'))
    return 'the source was shut off: copied once, no cutover; the copy is defined, not started';
  const frozen = result.guestFrozen
    ? "the guest's filesystems were frozen by its agent before the pause"
    : "the guest's filesystems were not frozen before the pause";
  return `downtime ${result.downtimeSeconds.toFixed(1)} s; ${frozen}`;
}

/** What a finished migration did, for people: one line per pass, the downtime, and what became of the source. */
export function migrateResultText(result: MigrateResult): string {
  const lines = [
    `migrated ${result.vmName} (${result.sourceHost}) to ${result.newName} (${result.destinationHost}) in ${result.durationSeconds.toFixed(1)} s`,
    result.mode === 'live'
      ? `sent ${formatBytes(result.bytesTransferred)} (memory and disks) with libvirt's live migration`
      : `sent ${formatBytes(result.bytesTransferred)} in ${result.passes.length} pass${result.passes.length === 1 ? '' : 'es'}; first copy ${result.consistency}`,
    table(
      ['PASS', 'KIND', 'SENT', 'SECONDS', 'OPERATION'],
      result.passes.map((pass, index) => [
        String(index + 1),
        pass.kind,
        formatBytes(pass.bytesTransferred),
        pass.seconds.toFixed(1),
        pass.operationId,
      ]),
    ).trimEnd(),
    cutoverLine(result),
    result.sourceKept
      ? `the source on ${result.sourceHost} was kept: defined, stopped, autostart off`
      : `the source on ${result.sourceHost} was undefined; its disk files remain`,
    ...result.warnings.map((warning) => `warning: ${warning}`),
    `operation ${result.operationId}`,
  ];
  return `${lines.join('\n')}\n`;
}

export function isMigrateResult(result: object): result is MigrateResult {
  return 'passes' in result && 'downtimeSeconds' in result;
}
