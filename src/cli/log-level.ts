import { DefaultLogger, type LogLevel as SdkLogLevel, type Runtime } from '@temporalio/worker';
import { installSdkRuntime, textLogLine } from '../observability';
import type { LogLevel } from './global-options';
import type { RotatingLogFile } from './rotating-log-file';

const sdkLevels: Record<LogLevel, SdkLogLevel> = { error: 'ERROR', warn: 'WARN', info: 'INFO', debug: 'DEBUG' };

/** The SDK's name of a CLI log level. */
export function sdkLogLevel(level: LogLevel): SdkLogLevel {
  return sdkLevels[level];
}

/** What the terminal hears of a log that goes to a file. */
export interface LogFileListener {
  /** An ERROR entry, in one line: its message, without metadata or stack. */
  error(message: string): void;
  /** The file could not be written; the log is dropped from then on. */
  unwritable(reason: string): void;
}

/**
 * A logger that writes each entry to `file`, so that a command's terminal keeps to its own
 * story (progress, warnings, the error) while the worker's detail, stacks included, stays
 * readable afterwards.
 */
export function logFileLogger(level: LogLevel, file: RotatingLogFile, listener: LogFileListener): DefaultLogger {
  let writable = true;
  return new DefaultLogger(sdkLevels[level], (entry) => {
    if (entry.level === 'ERROR') listener.error(entry.message);
    if (!writable) return;
    try {
      file.write(textLogLine(entry));
    } catch (error) {
      writable = false;
      listener.unwritable(error instanceof Error ? error.message : String(error));
    }
  });
}

let installed: Runtime | undefined;

/**
 * Sends this process's Temporal SDK logs (the worker's and core's) to `file`. The SDK
 * allows this once, before the first worker or native connection; later calls do nothing.
 */
export function installSdkLogFile(level: LogLevel, file: RotatingLogFile, listener: LogFileListener): void {
  installed ??= installSdkRuntime(logFileLogger(level, file, listener), sdkLevels[level]);
}

/**
 * Writes out the entries the SDK holds back (for about 100 ms, to order them with core's),
 * so that a command exiting right after its worker stopped leaves them in the file.
 */
export function flushSdkLogFile(): void {
  installed?.flushLogs();
}
