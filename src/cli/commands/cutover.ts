import { Command, Option } from 'commander';
import { checkedCutoverTime } from '../../client/cutover-time';
import { cliContext, loadCliConfig } from '../global-options';
import { fail, printResult } from '../output';
import { connectTemporal, type TemporalAccess } from '../temporal-access';

interface CutoverFlags {
  at?: string;
  hold?: boolean;
}

/** What `cutover` prints with json or yaml output. */
export interface CutoverDocument {
  type: 'cutover';
  operationId: string;
  /** `now`: cut over as soon as the migration can; `at`: not before `at`; `hold`: wait for a later `cutover`. */
  cutover: 'now' | 'at' | 'hold';
  at?: string;
}

export function cutoverText(document: CutoverDocument): string {
  if (document.cutover === 'hold')
    return `the cutover of ${document.operationId} is held; the copy is kept in step until: kvm-clone cutover ${document.operationId}\n`;
  if (document.cutover === 'at')
    return `the cutover of ${document.operationId} is set for ${document.at}; the copy is kept in step until then\n`;
  return `cutover of ${document.operationId} requested: the source is paused for the final sync as soon as the current pass ends\n`;
}

async function runCutover(operationId: string, flags: CutoverFlags, command: Command): Promise<void> {
  const context = cliContext(command);
  let access: TemporalAccess | undefined;
  try {
    // Before connecting, which may start the embedded server: a typo in the time fails at once.
    const at = flags.at === undefined ? undefined : checkedCutoverTime(flags.at, '--at');
    const config = await loadCliConfig(context);
    access = await connectTemporal(context, config);
    let document: CutoverDocument;
    if (flags.hold) {
      await access.client.holdCutover(operationId);
      document = { type: 'cutover', operationId, cutover: 'hold' };
    } else {
      await access.client.cutover(operationId, at);
      document =
        at === undefined
          ? { type: 'cutover', operationId, cutover: 'now' }
          : { type: 'cutover', operationId, cutover: 'at', at };
    }
    printResult(context.format, document, cutoverText);
  } catch (error) {
    await access?.close().catch(() => undefined);
    fail(error, context.format);
  }
  await access?.close();
}

export function cutoverCommand(): Command {
  return new Command('cutover')
    .description(
      'let a running migration cut over now, or at a time (--at), or hold its cutover until this command is run again (--hold)',
    )
    .argument('<operation-id>', 'the migration, as migrate or status printed it')
    .addOption(
      new Option('--at <time>', 'cut over not before this time, ISO 8601 with a zone (e.g. 2026-12-24T02:00:00Z)'),
    )
    .addOption(
      new Option('--hold', 'hold the cutover until a later `kvm-clone cutover`, keeping the copy in step').conflicts(
        'at',
      ),
    )
    .action((operationId: string, flags: CutoverFlags, self: Command) => runCutover(operationId, flags, self));
}
