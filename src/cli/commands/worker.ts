import { Command } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import { ErrorCode, KvmCloneError } from '../../errors';
import { DEFAULT_TASK_QUEUE } from '../../task-queue';
import { createKvmCloneWorker } from '../../worker';
import { cliContext, loadCliConfig } from '../global-options';
import { sdkLogLevel } from '../log-level';
import {
  installWorkerRuntime,
  jsonLogLine,
  LOG_FORMAT_ENV,
  LOG_FORMATS,
  METRICS_ADDRESS_ENV,
  type LogFormat,
} from '../../observability';
import { workerConfigSchema } from '../config-schema';
import { configuredWebhooks } from '../notify-merge';
import { fail } from '../output';
import { resolveTemporalAddress } from '../temporal-access';
import { refusedSshFlagOptions } from '../ssh-flags';
import { temporalConnectionOptions } from '../temporal-connection';

interface WorkerFlags {
  maxActivities?: string;
  metricsAddress?: string;
  logFormat?: string;
}

/** Telemetry settings: the flag, else the env var, else the config's `worker` section. */
export function workerTelemetrySettings(
  flags: WorkerFlags,
  config: { worker?: { metricsAddress?: string; logFormat?: LogFormat } },
  env: NodeJS.ProcessEnv = process.env,
): { metricsAddress?: string; logFormat: LogFormat } {
  const logFormat = flags.logFormat ?? (env[LOG_FORMAT_ENV] || undefined) ?? config.worker?.logFormat ?? 'text';
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new KvmCloneError(
      ErrorCode.VALIDATION_ERROR,
      `--log-format: '${logFormat}' is not one of ${LOG_FORMATS.join(', ')}`,
    );
  }
  const metricsAddress =
    flags.metricsAddress ?? (env[METRICS_ADDRESS_ENV] || undefined) ?? config.worker?.metricsAddress;
  if (metricsAddress !== undefined && !workerConfigSchema.shape.metricsAddress.safeParse(metricsAddress).success) {
    throw new KvmCloneError(
      ErrorCode.VALIDATION_ERROR,
      `--metrics-address: '${metricsAddress}' is not host:port (e.g. 0.0.0.0:9464)`,
    );
  }
  return { logFormat: logFormat as LogFormat, ...(metricsAddress ? { metricsAddress } : {}) };
}

async function runWorker(flags: WorkerFlags, command: Command): Promise<void> {
  const context = cliContext(command);
  try {
    const config = await loadCliConfig(context);
    const telemetry = workerTelemetrySettings(flags, config);
    // The SDK's runtime shuts every worker down on SIGINT and SIGTERM: running activities
    // are cancelled (WORKER_SHUTDOWN), send their last heartbeat, and run() returns.
    // JSON logs are for log collectors: they get each activity's start and end (INFO) unless a level is asked for.
    const levelAsked = context.options.logLevel !== undefined || context.options.verbose || context.options.quiet;
    installWorkerRuntime({
      logLevel: sdkLogLevel(telemetry.logFormat === 'json' && !levelAsked ? 'info' : context.logLevel),
      ...telemetry,
    });
    // In JSON mode every line on stderr is JSON, the worker's own notes included.
    const note = (message: string): void => {
      if (telemetry.logFormat === 'text') context.note(message);
      else if (!context.options.quiet)
        process.stderr.write(
          jsonLogLine({
            level: 'INFO',
            message,
            timestampNanos: BigInt(Date.now()) * 1_000_000n,
            meta: { sdkComponent: 'kvm-clone' },
          }),
        );
    };
    if (telemetry.metricsAddress) note(`metrics for Prometheus at http://${telemetry.metricsAddress}/metrics`);
    const { address } = await resolveTemporalAddress(context, config);
    const connection = await NativeConnection.connect(await temporalConnectionOptions(config.temporal, address));
    const taskQueue = config.temporal.taskQueue ?? DEFAULT_TASK_QUEUE;
    const maxActivities = flags.maxActivities === undefined ? undefined : Number(flags.maxActivities);
    if (maxActivities !== undefined && !(Number.isInteger(maxActivities) && maxActivities > 0)) {
      throw new KvmCloneError(
        ErrorCode.VALIDATION_ERROR,
        `--max-activities: '${flags.maxActivities}' is not a positive whole number`,
      );
    }
    const { worker, deps } = await createKvmCloneWorker({
      connection,
      namespace: config.temporal.namespace,
      taskQueue,
      hosts: config.hosts,
      // The operator's policy and named webhooks: what workflow inputs may ask of this worker.
      ...(config.policy ? { policy: config.policy } : {}),
      webhooks: configuredWebhooks(config),
      ...(maxActivities ? { tuning: { maxConcurrentActivityTaskExecutions: maxActivities } } : {}),
    });
    note(
      `worker polling task queue ${taskQueue} on ${address} (namespace ${config.temporal.namespace}) with hosts ${Object.keys(config.hosts).join(', ') || '(none)'}; Ctrl-C stops it`,
    );
    try {
      await worker.run();
    } finally {
      deps.pool.closeAll();
      await connection.close();
    }
    note('worker stopped');
  } catch (error) {
    fail(error, context.format);
  }
}

export function workerCommand(): Command {
  const command = new Command('worker')
    .description('run a worker for the configured Temporal (or the embedded server) until SIGINT or SIGTERM')
    .option('--max-activities <n>', 'activities run at once by this worker')
    .option(
      '--metrics-address <host:port>',
      `serve Temporal SDK metrics for Prometheus at http://<host:port>/metrics (env ${METRICS_ADDRESS_ENV}, config worker.metricsAddress)`,
    )
    .option(
      '--log-format <format>',
      `text or json: one JSON object per line, with the operation id (env ${LOG_FORMAT_ENV}, config worker.logFormat)`,
    );
  for (const option of refusedSshFlagOptions('this is a shared worker: operations of any client run on it'))
    command.addOption(option);
  return command.action((flags: WorkerFlags, self: Command) => runWorker(flags, self));
}
