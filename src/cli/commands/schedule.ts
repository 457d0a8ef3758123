import { Command } from 'commander';
import { parseOverlapPolicy, type ScheduledAction } from '../../client/schedules';
import { ErrorCode, KvmCloneError } from '../../errors';
import { cloneInputFromFlags, type CloneFlags } from '../clone-flags';
import { cliContext, loadCliConfig, type CliContext } from '../global-options';
import type { KvmCloneConfig } from '../config-schema';
import { routeAndNotify } from '../operation-input';
import { cloneOptions, syncOptions } from '../operation-options';
import { refusedSshFlagOptions } from '../ssh-flags';
import { fail, printResult } from '../output';
import { scheduleListText, scheduleText, type ScheduleDocument, type ScheduleListDocument } from '../schedule-view';
import { syncInputFromFlags, type SyncFlags } from '../sync-flags';
import { connectTemporal, type TemporalAccess } from '../temporal-access';

interface CreateFlags extends CloneFlags, SyncFlags {
  cron?: string;
  every?: string;
  overlap?: string;
  catchupWindow?: string;
  paused?: boolean;
  note?: string;
  relay?: boolean;
  notify?: string[];
}

/** Runs a schedule subcommand with a connection, reporting failures like every command. */
async function withAccess(
  command: Command,
  use: (access: TemporalAccess, config: KvmCloneConfig, context: CliContext) => Promise<void>,
): Promise<void> {
  const context = cliContext(command);
  let access: TemporalAccess | undefined;
  try {
    const config = await loadCliConfig(context);
    access = await connectTemporal(context, config);
    await use(access, config, context);
  } catch (error) {
    await access?.close().catch(() => undefined);
    fail(error, context.format);
  }
  await access.close();
}

/** Options of the other kind, given anyway, would be silently dropped: refuse them. */
function refuseForeignFlags(kind: 'sync' | 'clone', flags: Record<string, unknown>): void {
  const own = new Set((kind === 'sync' ? syncOptions() : cloneOptions()).map((option) => option.long));
  const foreign = (kind === 'sync' ? cloneOptions() : syncOptions()).filter(
    (option) => !own.has(option.long) && flags[option.attributeName()] !== undefined,
  );
  if (foreign.length > 0)
    throw new KvmCloneError(
      ErrorCode.VALIDATION_ERROR,
      `${foreign.map((option) => option.long).join(', ')}: not an option of ${kind}`,
    );
}

function actionFromArguments(
  kind: string,
  source: string,
  destination: string,
  vmName: string,
  flags: CreateFlags,
  config: KvmCloneConfig,
): ScheduledAction {
  if (kind !== 'sync' && kind !== 'clone')
    throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, `'${kind}' is not sync or clone`);
  refuseForeignFlags(kind, flags as Record<string, unknown>);
  const subject = { source, destination, vmName };
  const extras = routeAndNotify(config, subject, flags);
  return kind === 'sync'
    ? { kind, input: { ...syncInputFromFlags(subject, flags, config.defaults.sync), ...extras } }
    : { kind, input: { ...cloneInputFromFlags(subject, flags, config.defaults.clone), ...extras } };
}

function createCommand(): Command {
  const command = new Command('create')
    .description(
      'run a sync or a clone on a schedule: kvm-clone schedule create NAME --every 6h sync SOURCE DEST VM [options]',
    )
    .argument('<name>', 'the schedule name')
    .argument('<kind>', 'sync or clone')
    .argument('<source>', 'source host alias')
    .argument('<dest>', 'destination host alias')
    .argument('<vm>', 'name of the VM on the source')
    .option('--cron <expression>', "when to run, as a cron expression in UTC, e.g. '0 2 * * *'")
    .option('--every <interval>', 'or at a fixed interval: 90s, 30m, 6h, 1d')
    .option(
      '--overlap <policy>',
      'when a run is due while the last one runs: skip (default), buffer-one, buffer-all, cancel-other (the last one cleans up), allow-all',
    )
    .option(
      '--catchup-window <duration>',
      "how late a run missed while Temporal was down may still start (default '1 hour')",
    )
    .option('--paused', 'create it paused')
    .option('--note <text>', 'a note shown by describe');
  const seen = new Set<string | undefined>();
  for (const option of [...syncOptions(), ...cloneOptions()]) {
    if (seen.has(option.long)) continue;
    seen.add(option.long);
    command.addOption(option);
  }
  for (const option of refusedSshFlagOptions('scheduled runs are run by whichever worker polls when they are due'))
    command.addOption(option);
  command.addHelpText(
    'after',
    "\nA clone's --new-name may hold {date}, {time} or {datetime} (UTC, filled in when each run starts), e.g. --new-name web01-{date}.",
  );
  return command.action(
    (name: string, kind: string, source: string, dest: string, vm: string, flags: CreateFlags, self: Command) =>
      withAccess(self, async (access, config, context) => {
        if ((flags.cron === undefined) === (flags.every === undefined))
          throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, 'give --cron or --every');
        const action = actionFromArguments(kind, source, dest, vm, flags, config);
        await access.client.createSchedule({
          name,
          action,
          ...(flags.cron !== undefined ? { cron: flags.cron } : {}),
          ...(flags.every !== undefined ? { every: flags.every } : {}),
          ...(flags.overlap !== undefined ? { overlap: parseOverlapPolicy(flags.overlap) } : {}),
          ...(flags.catchupWindow !== undefined ? { catchupWindow: flags.catchupWindow } : {}),
          ...(flags.paused ? { paused: true } : {}),
          ...(flags.note !== undefined ? { note: flags.note } : {}),
        });
        if (access.embedded) context.note('runs start only while a worker runs: keep `kvm-clone worker` running');
        printResult(context.format, { type: 'schedule-created', name }, () => `created schedule ${name}\n`);
      }),
  );
}

/** pause, unpause, trigger, delete: one schedule, one change, one line out. */
function changeCommand(name: 'pause' | 'unpause' | 'trigger' | 'delete', description: string, past: string): Command {
  const command = new Command(name).description(description).argument('<name>', 'the schedule name');
  if (name === 'pause' || name === 'unpause') command.option('--note <text>', 'why, shown by describe');
  return command.action((schedule: string, flags: { note?: string }, self: Command) =>
    withAccess(self, async (access, _config, context) => {
      if (name === 'pause') await access.client.pauseSchedule(schedule, flags.note);
      else if (name === 'unpause') await access.client.unpauseSchedule(schedule, flags.note);
      else if (name === 'trigger') await access.client.triggerSchedule(schedule);
      else await access.client.deleteSchedule(schedule);
      printResult(context.format, { type: `schedule-${past}`, name: schedule }, () => `${past} schedule ${schedule}\n`);
    }),
  );
}

export function scheduleCommand(): Command {
  return new Command('schedule')
    .description('recurring syncs and clones, as Temporal Schedules')
    .addCommand(createCommand())
    .addCommand(
      new Command('list').description("kvm-clone's schedules").action((_flags: unknown, self: Command) =>
        withAccess(self, async (access, _config, context) => {
          printResult<ScheduleListDocument>(
            context.format,
            { type: 'schedules', schedules: await access.client.listSchedules() },
            scheduleListText,
          );
        }),
      ),
    )
    .addCommand(
      new Command('describe')
        .description('a schedule: its policy, run counts, next runs, and recent runs with their results')
        .argument('<name>', 'the schedule name')
        .action((name: string, _flags: unknown, self: Command) =>
          withAccess(self, async (access, _config, context) => {
            printResult<ScheduleDocument>(
              context.format,
              { type: 'schedule', ...(await access.client.describeSchedule(name)) },
              scheduleText,
            );
          }),
        ),
    )
    .addCommand(changeCommand('pause', 'stop starting runs (a running one goes on)', 'paused'))
    .addCommand(changeCommand('unpause', 'start runs again when due', 'unpaused'))
    .addCommand(
      changeCommand(
        'trigger',
        'run now, under the overlap policy (skipped while a run is going on, with skip)',
        'triggered',
      ),
    )
    .addCommand(changeCommand('delete', 'delete the schedule (runs already started go on)', 'deleted'));
}
