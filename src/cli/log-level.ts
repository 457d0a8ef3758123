import { DefaultLogger, Runtime, type LogLevel as SdkLogLevel } from '@temporalio/worker';
import type { LogLevel } from './global-options';

const sdkLevels: Record<LogLevel, SdkLogLevel> = { error: 'ERROR', warn: 'WARN', info: 'INFO', debug: 'DEBUG' };

/** The SDK's name of a CLI log level. */
export function sdkLogLevel(level: LogLevel): SdkLogLevel {
  return sdkLevels[level];
}

let installed = false;

/**
 * Sets the Temporal SDK's log level for this process. The SDK allows this once, before
 * the first worker or native connection, and logs INFO lines to stderr by default.
 */
export function installSdkLogger(level: LogLevel): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger(sdkLevels[level]) });
}
