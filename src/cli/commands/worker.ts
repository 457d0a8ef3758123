import { Command } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import { ErrorCode, KvmCloneError } from '../../errors';
import { DEFAULT_TASK_QUEUE } from '../../task-queue';
import { createKvmCloneWorker } from '../../worker';
import { cliContext, loadCliConfig } from '../global-options';
import { installSdkLogger } from '../log-level';
import { fail } from '../output';
import { resolveTemporalAddress } from '../temporal-access';
import { temporalConnectionOptions } from '../temporal-connection';

async function runWorker(flags: { maxActivities?: string }, command: Command): Promise<void> {
  const context = cliContext(command);
  try {
    const config = await loadCliConfig(context);
    // The SDK's runtime shuts every worker down on SIGINT and SIGTERM; run() then returns.
    installSdkLogger(context.logLevel);
    const { address } = await resolveTemporalAddress(context, config);
    const connection = await NativeConnection.connect(await temporalConnectionOptions(config.temporal, address));
    const taskQueue = config.temporal.taskQueue ?? DEFAULT_TASK_QUEUE;
    const maxActivities = flags.maxActivities === undefined ? undefined : Number(flags.maxActivities);
    if (maxActivities !== undefined && !(Number.isInteger(maxActivities) && maxActivities > 0)) {
      throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, `--max-activities: '${flags.maxActivities}' is not a positive whole number`);
    }
    const { worker, deps } = await createKvmCloneWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue,
      hosts: config.hosts,
      ...(maxActivities ? { tuning: { maxConcurrentActivityTaskExecutions: maxActivities } } : {}),
    });
    context.note(`worker polling task queue ${taskQueue} on ${address} (namespace ${config.temporal.namespace}) with hosts ${Object.keys(config.hosts).join(', ') || '(none)'}; Ctrl-C stops it`);
    try {
      await worker.run();
    } finally {
      deps.pool.closeAll();
      await connection.close();
    }
    context.note('worker stopped');
  } catch (error) {
    fail(error, context.format);
  }
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('run a worker for the configured Temporal (or the embedded server) until SIGINT or SIGTERM')
    .option('--max-activities <n>', 'activities run at once by this worker')
    .action((flags: { maxActivities?: string }, command: Command) => runWorker(flags, command));
}
