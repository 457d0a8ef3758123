import { format } from 'node:util';
import type { Context as ActivityContext } from '@temporalio/activity';
import {
  DefaultLogger,
  Runtime,
  type ActivityInterceptors,
  type LogEntry,
  type LogLevel,
  type Logger,
  type TelemetryOptions,
} from '@temporalio/worker';

/** How a worker process logs: `text` as the SDK prints it, or one JSON object per line. */
export type LogFormat = 'text' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** Env vars that configure a worker's telemetry where a flag or the config file does not. */
export const METRICS_ADDRESS_ENV = 'KVM_CLONE_METRICS_ADDRESS';
export const LOG_FORMAT_ENV = 'KVM_CLONE_LOG_FORMAT';

export interface WorkerTelemetry {
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** host:port of the Prometheus exporter of the SDK's metrics (`/metrics`); none when absent. */
  metricsAddress?: string;
}

/** JSON.stringify that keeps errors (message, stack), bigints and cycles printable. */
function serialize(record: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(record, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error)
      return {
        name: value.name,
        message: value.message,
        ...(value.stack ? { stack: value.stack } : {}),
        ...((value as { code?: unknown }).code !== undefined ? { code: (value as { code?: unknown }).code } : {}),
      };
    if (value !== null && typeof value === 'object') {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    return value;
  });
}

/**
 * One log entry as a JSON line. `operationId` is on every line: the workflow id of the
 * clone or sync the line is about (the SDK's workflow and activity loggers attach it as
 * `workflowId`), or null for lines about the worker itself.
 */
export function jsonLogLine(entry: LogEntry): string {
  const meta = { ...(entry.meta ?? {}) } as Record<string, unknown>;
  const operationId = typeof meta.workflowId === 'string' ? meta.workflowId : null;
  const milliseconds = Number(entry.timestampNanos / 1_000_000n);
  return `${serialize({ time: new Date(milliseconds).toISOString(), level: entry.level.toLowerCase(), msg: entry.message, operationId, ...meta })}\n`;
}

/** A logger that writes JSON lines (see {@link jsonLogLine}), by default to stderr. */
export function jsonLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  return new DefaultLogger(level, (entry) => write(jsonLogLine(entry)));
}

/** One log entry as the SDK's default logger prints it: time, level, message, then the metadata. */
export function textLogLine(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = entry.meta && Object.keys(entry.meta).length > 0 ? ` ${format(entry.meta)}` : '';
  return `${time} [${entry.level}] ${entry.message}${meta}\n`;
}

/**
 * Installs the SDK runtime of this process with `logger`; core's own logs at `level` and
 * above are forwarded to it, so every line goes to the same place in the same format.
 * With an address, the Prometheus exporter too. The SDK allows this once, before the first
 * worker or native connection.
 */
export function installSdkRuntime(logger: Logger, level: LogLevel, metricsAddress?: string): Runtime {
  const telemetryOptions: TelemetryOptions = {
    logging: { filter: { core: level, other: 'WARN' }, forward: {} },
    ...(metricsAddress ? { metrics: { prometheus: { bindAddress: metricsAddress } } } : {}),
  };
  return Runtime.install({ logger, telemetryOptions });
}

/** Installs the SDK runtime of a worker process, logging to stderr as text or JSON lines. */
export function installWorkerRuntime(telemetry: WorkerTelemetry): Logger {
  const logger =
    telemetry.logFormat === 'json' ? jsonLogger(telemetry.logLevel) : new DefaultLogger(telemetry.logLevel);
  installSdkRuntime(logger, telemetry.logLevel, telemetry.metricsAddress);
  return logger;
}

/**
 * Logs each activity's start and end at INFO through the activity's own logger, which
 * tags the line with the workflow id (the operation id), activity type and attempt. The
 * SDK logs these only at DEBUG; operators want them by default.
 */
export function operationLogInterceptor(context: ActivityContext): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const started = Date.now();
        context.log.info('activity started');
        try {
          const result = await next(input);
          context.log.info('activity completed', { durationMs: Date.now() - started });
          return result;
        } catch (error) {
          const why: unknown = context.cancellationSignal.reason;
          // WORKER_SHUTDOWN on SIGTERM, CANCELLED when the workflow cancels the activity, …
          const reason = context.cancellationSignal.aborted
            ? { cancelled: why instanceof Error ? why.message : String(why ?? 'cancelled') }
            : {};
          context.log.info('activity ended with an error', { durationMs: Date.now() - started, ...reason });
          throw error;
        }
      },
    },
  };
}
