import { Command } from 'commander';
import type { CloneResult } from '../../domain/clone-result';
import type { MigrateResult } from '../../domain/migration';
import type { SyncResult } from '../../domain/sync-result';
import { ErrorCode, KvmCloneError } from '../../errors';
import { operationResultText } from '../operation-result-view';
import { cliContext, loadCliConfig, type CliContext, type OutputFormat } from '../global-options';
import type { ReferenceDefaults } from '../../hosts/ssh-config';
import {
  requireOwnWorkerPossible,
  startOwnWorker,
  startWorkerUnlessPolling,
  type RunningWorker,
} from '../in-process-worker';
import {
  operationListText,
  operationStatusText,
  type OperationListDocument,
  type OperationStatusDocument,
} from '../operation-view';
import { fail, formatDocument, printResult } from '../output';
import { followOperation, progressSink, progressStyle, streamingFormat } from '../progress-follow';
import { connectTemporal, type TemporalAccess } from '../temporal-access';
import type { KvmCloneConfig } from '../config-schema';
import { referenceDefaultsOf, sshFlagOptions, type SshFlags } from '../ssh-flags';
import { UsageError } from '../usage-error';

interface StatusFlags extends SshFlags {
  all?: boolean;
  active?: boolean;
  follow?: boolean;
  limit: string;
}

/** Streams an operation's progress until it ends, then prints its result like `clone` does. */
async function follow(
  context: CliContext,
  config: KvmCloneConfig,
  access: TemporalAccess,
  operationId: string,
  format: OutputFormat,
  referenceDefaults: ReferenceDefaults | undefined,
): Promise<{ worker?: RunningWorker }> {
  // Fails with 1203 for an unknown id before anything is shown.
  const status = await access.client.status(operationId);
  // With the embedded server nothing else may be running the operation, or answering for it.
  const needsWorker = status.state === 'RUNNING' && access.embedded;
  const worker = !needsWorker
    ? undefined
    : referenceDefaults
      ? await startOwnWorker(context, config, access, referenceDefaults)
      : await startWorkerUnlessPolling(context, config, access);
  try {
    const sink = progressSink(
      progressStyle({ format, quiet: context.options.quiet, stderrIsTty: Boolean(process.stderr.isTTY) }),
      operationId,
    );
    const result = await followOperation<CloneResult | SyncResult | MigrateResult>(access.client, operationId, sink);
    process.stdout.write(
      format === 'text' ? operationResultText(result) : formatDocument(format, { type: 'result', ...result }),
    );
  } catch (error) {
    await worker?.stop().catch(() => undefined);
    throw error;
  }
  return worker ? { worker } : {};
}

/** -k/--ssh-port, for the worker that --follow runs to resume an interrupted operation: usage errors elsewhere. */
function ownWorkerFlags(flags: StatusFlags, config: KvmCloneConfig): ReferenceDefaults | undefined {
  const defaults = referenceDefaultsOf(flags);
  if (!defaults) return undefined;
  if (!flags.follow)
    throw new UsageError('-k/--ssh-key and --ssh-port are for --follow, whose worker resumes the operation', {
      flags: ['--ssh-key', '--ssh-port'],
    });
  requireOwnWorkerPossible(config);
  return defaults;
}

async function runStatus(operationId: string | undefined, flags: StatusFlags, command: Command): Promise<void> {
  const context = cliContext(command);
  let format = context.format;
  let access: TemporalAccess | undefined;
  let worker: RunningWorker | undefined;
  try {
    if (flags.all && flags.active)
      throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, 'give --all or --active, not both');
    if (flags.follow && !operationId)
      throw new KvmCloneError(
        ErrorCode.VALIDATION_ERROR,
        '--follow needs an OPERATION_ID (see kvm-clone status for the running ones)',
      );
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, `--limit: '${flags.limit}' is not a positive whole number`);
    const config = await loadCliConfig(context);
    const referenceDefaults = ownWorkerFlags(flags, config);
    access = await connectTemporal(context, config);
    if (operationId && flags.follow) {
      format = streamingFormat(context.format, Boolean(process.stdout.isTTY));
      ({ worker } = await follow(context, config, access, operationId, format, referenceDefaults));
    } else if (operationId) {
      const status = await access.client.status(operationId);
      printResult<OperationStatusDocument>(format, { type: 'status', ...status }, operationStatusText);
    } else {
      const operations = await access.client.listOperations({ filter: flags.all ? 'all' : 'active', limit });
      printResult<OperationListDocument>(format, { type: 'operations', operations }, operationListText);
    }
  } catch (error) {
    await access?.close().catch(() => undefined);
    fail(error, format);
  }
  await worker?.stop();
  await access?.close();
}

export function statusCommand(): Command {
  const command = new Command('status')
    .description('show operations: the running ones, all recent ones, or one with its progress and result')
    .argument('[operation-id]', 'the operation to show (as clone printed it)')
    .option('--active', 'only running operations (the default)')
    .option('-a, --all', 'finished operations too, newest first')
    .option('--limit <n>', 'show at most this many operations', '50')
    .option('--follow', 'stream the progress of OPERATION_ID until it ends, then print its result');
  // For the worker --follow runs: an operation started with them goes on with them.
  for (const option of sshFlagOptions()) command.addOption(option);
  return command.action((operationId: string | undefined, flags: StatusFlags, self: Command) =>
    runStatus(operationId, flags, self),
  );
}
