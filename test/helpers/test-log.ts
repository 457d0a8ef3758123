/**
 * The Temporal SDK's log in tests: out of the terminal unless a test fails.
 *
 * Workers log every activity's start and end at INFO and every failure they were asked to
 * provoke at WARN, stacks included: thousands of lines in a green run. Here each entry goes
 * to a log file of the test file (`.cache/test/logs/`), from the test process and from the
 * worker processes its tests start; when a test fails, the entries logged during it are
 * printed after it, with the file's path. `KVM_CLONE_TEST_LOG=<level>` (trace, debug, info,
 * warn, error; default error) prints entries from that level on as they come.
 *
 *   - `test-log-setup.ts`, a vitest setup file (setupFiles), gives each test file its log
 *     and prints it on failure.
 *   - `installTestRuntime()` makes the SDK log this way in a process; call it before the
 *     first worker or native connection (startTestEnvironment and worker-process do).
 *
 * This module imports nothing of vitest: worker processes started by tests load it.
 */
import { appendFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { IllegalStateError } from '@temporalio/common';
import { DefaultLogger, type LogEntry, type LogLevel, type Logger } from '@temporalio/worker';
import { installSdkRuntime } from '../../src/observability';
import { onTestLogFlush, TEST_LOG_FILE_ENV } from './test-log-file';

export { TEST_LOG_FILE_ENV };

export const TEST_LOG_ENV = 'KVM_CLONE_TEST_LOG';
const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

const rank = (level: LogLevel): number => LEVELS.indexOf(level);

/** What the log file keeps: INFO and above, or from the live level when that is lower. */
const keptLevel = (live: LogLevel): LogLevel => (rank(live) < rank('INFO') ? live : 'INFO');

/** The level KVM_CLONE_TEST_LOG asks to see as it comes (any case), else ERROR. */
export function liveTestLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const asked = env[TEST_LOG_ENV]?.trim();
  if (!asked) return 'ERROR';
  const level = asked.toUpperCase() as LogLevel;
  if (!LEVELS.includes(level))
    throw new Error(`${TEST_LOG_ENV}=${asked}: not a log level (${LEVELS.join(', ').toLowerCase()})`);
  return level;
}

/** One entry in one line (a stack excepted): a failed test's log should show many entries, not a few. */
export function testLogLine(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = entry.meta && Object.keys(entry.meta).length > 0;
  const details = meta ? ` ${inspect(entry.meta, { breakLength: Infinity, depth: 4 })}` : '';
  return `${time} [${entry.level}] ${entry.message}${details}\n`;
}

/** Entries at INFO and above (lower when asked) to the test file's log; those at the live level to stderr too. */
export function testLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const live = liveTestLogLevel(env);
  return new DefaultLogger(keptLevel(live), (entry) => {
    const line = testLogLine(entry);
    const file = env[TEST_LOG_FILE_ENV];
    if (file) appendFileSync(file, line);
    if (rank(entry.level) >= rank(live)) process.stderr.write(line);
  });
}

let installed = false;

/**
 * Installs {@link testLogger} as this process's Temporal runtime logger, core's logs
 * forwarded to it. A runtime already installed (a test file listening to the log itself)
 * is kept.
 */
export function installTestRuntime(env: NodeJS.ProcessEnv = process.env): void {
  if (installed) return;
  const live = liveTestLogLevel(env);
  try {
    // Core's INFO lines (worker start and stop) say nothing a test needs.
    const coreLevel = rank(live) < rank('INFO') ? live : 'WARN';
    const runtime = installSdkRuntime(testLogger(env), coreLevel);
    installed = true;
    // The SDK holds entries back for about 100 ms, to order them with core's.
    onTestLogFlush(() => runtime.flushLogs());
  } catch (error) {
    if (!(error instanceof IllegalStateError)) throw error;
  }
}
