import type { ReferenceDefaults } from '../hosts/ssh-config';
import type { CliContext, OutputFormat } from './global-options';
import type { KvmCloneConfig } from './config-schema';
import {
  requireOwnWorkerPossible,
  startOwnWorker,
  startWorkerUnlessPolling,
  type RunningWorker,
} from './in-process-worker';
import { sshFlagsText } from './ssh-flags';
import { UsageError } from './usage-error';
import { fail, formatDocument, printResult } from './output';
import { followOperation, progressSink, progressStyle, streamingFormat } from './progress-follow';
import { connectTemporal, type TemporalAccess } from './temporal-access';

/** Ctrl-C ends the command, not the operation: it goes on when a worker runs. */
function onInterrupt(
  operationId: string,
  worker: RunningWorker | undefined,
  note: (message: string) => void,
  resumeFlags: string,
): () => void {
  let interrupted = false;
  const handler = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    note(
      `interrupted; operation ${operationId} goes on when a worker runs (follow it with: kvm-clone status ${operationId} --follow${resumeFlags})`,
    );
    void (worker?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

export interface OperationRun<R> {
  /**
   * Builds the workflow input from the config (throws a KvmCloneError for a bad flag) and starts it; returns the
   * operation id.
   */
  start(config: KvmCloneConfig, access: TemporalAccess): Promise<string>;
  /** The finished operation's result, for people. */
  text(result: R): string;
  detach: boolean;
  /** The hosts the operation reaches, as given: this command's own worker unlocks their keys on the terminal. */
  hosts: readonly string[];
  /**
   * `-k`/`--ssh-port` checked against the config (throws a KvmCloneError for a bad one); undefined without them. They
   * go to this command's own worker, never into the workflow input.
   */
  referenceDefaults?(config: KvmCloneConfig): ReferenceDefaults | undefined;
}

/**
 * The worker -k/--ssh-port need, started before the operation so that no other worker takes it; none without them.
 * They are refused (usage, exit 2) when the operation would run on another worker: a shared one, or any after
 * --detach.
 */
async function ownWorkerFor<R>(
  context: CliContext,
  config: KvmCloneConfig,
  run: OperationRun<R>,
  connect: () => Promise<TemporalAccess>,
): Promise<{ access: TemporalAccess; worker?: RunningWorker; defaults?: ReferenceDefaults }> {
  const defaults = run.referenceDefaults?.(config);
  if (!defaults) return { access: await connect() };
  if (run.detach) {
    throw new UsageError(
      "-k/--ssh-key and --ssh-port set how this command's own worker reaches hosts, and --detach leaves the operation to whichever worker runs next: run without --detach",
      { flags: ['--ssh-key', '--ssh-port', '--detach'] },
    );
  }
  requireOwnWorkerPossible(config);
  const access = await connect();
  try {
    return { access, worker: await startOwnWorker(context, config, access, defaults, run.hosts), defaults };
  } catch (error) {
    await access.close().catch(() => undefined);
    throw error;
  }
}

/**
 * What `clone` and `sync` share: start the operation, then either print its id (--detach)
 * or follow its progress to the result, with an in-process worker for the embedded server.
 */
export async function runOperation<R extends object>(
  context: CliContext,
  loadConfig: () => Promise<KvmCloneConfig>,
  run: OperationRun<R>,
): Promise<void> {
  const format: OutputFormat = streamingFormat(context.format, Boolean(process.stdout.isTTY));
  let access: TemporalAccess | undefined;
  let worker: RunningWorker | undefined;
  try {
    const config = await loadConfig();
    const own = await ownWorkerFor(context, config, run, () => connectTemporal(context, config));
    ({ access, worker } = own);
    // Before the operation starts, so that a key that stays locked fails the command, not an operation left waiting.
    if (access.embedded && !worker && !run.detach)
      worker = await startWorkerUnlessPolling(context, config, access, run.hosts);
    const operationId = await run.start(config, access);
    if (run.detach) {
      printResult(format, { type: 'started', operationId }, () => `${operationId}\n`);
      if (access.embedded)
        context.note(
          `follow it with: kvm-clone status ${operationId} --follow (the operation runs while a worker runs)`,
        );
      return;
    }
    context.note(`operation ${operationId}`);
    const stopListening = onInterrupt(operationId, worker, context.note, sshFlagsText(own.defaults));
    try {
      const sink = progressSink(
        progressStyle({ format, quiet: context.options.quiet, stderrIsTty: Boolean(process.stderr.isTTY) }),
        operationId,
      );
      const result = await followOperation<R>(access.client, operationId, sink);
      process.stdout.write(
        format === 'text' ? run.text(result) : formatDocument(format, { type: 'result', ...result }),
      );
    } finally {
      stopListening();
    }
  } catch (error) {
    await worker?.stop().catch(() => undefined);
    await access?.close().catch(() => undefined);
    fail(error, format);
  }
  await worker?.stop();
  await access?.close();
}
