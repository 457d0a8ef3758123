import { formatBytes } from '../domain/sizes';
import type { MigrationProgress } from '../workflows/migration-control';
import { cellTime, table } from './table';

/**
 * A running migration in `status`: its phase, what holds its cutover back, the passes so
 * far, and the downtime a cutover would cost now, for an operator deciding when to cut over.
 */
export function migrationProgressLines(migration: MigrationProgress): string[] {
  const waitingFor = [
    ...(migration.held ? ['held until a cutover signal (kvm-clone cutover ID)'] : []),
    ...(migration.cutoverAt ? [`cutover not before ${cellTime(migration.cutoverAt)}`] : []),
  ];
  const estimate =
    migration.estimatedDowntimeSeconds === undefined
      ? 'not known before the first sync'
      : `${migration.estimatedDowntimeSeconds.toFixed(1)} s`;
  const lines = [
    `migration: ${migration.phase}${waitingFor.length > 0 ? `; ${waitingFor.join('; ')}` : ''}`,
    `estimated downtime: ${estimate} (allowed: ${migration.maxDowntimeSeconds} s)`,
  ];
  if (migration.guestFrozen !== undefined)
    lines.push(`guest filesystems: ${migration.guestFrozen ? 'frozen' : 'not frozen'} for the cutover`);
  if (migration.passes.length > 0)
    lines.push(
      ...table(
        ['PASS', 'KIND', 'SENT', 'SECONDS'],
        migration.passes.map((pass, index) => [
          String(index + 1),
          pass.kind,
          formatBytes(pass.bytesTransferred),
          pass.seconds.toFixed(1),
        ]),
      )
        .trimEnd()
        .split('\n')
        .map((line) => `  ${line}`),
    );
  return lines;
}
