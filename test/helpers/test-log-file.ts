/**
 * Where a test file's SDK log goes, shared by test-log.ts (which writes it) and
 * test-log-setup.ts (which prints it on failure). Light on purpose: every test file's setup
 * loads it, and most never load the Temporal SDK.
 */
import path from 'node:path';

/** Where test files' logs go. */
export const TEST_LOG_DIR = path.resolve(__dirname, '../../.cache/test/logs');
/** The test file's log; set by test-log-setup.ts, inherited by the processes a test starts. */
export const TEST_LOG_FILE_ENV = 'KVM_CLONE_TEST_LOG_FILE';

let flushes: (() => void)[] = [];

/** Registers what writes out log entries held back (the SDK holds them about 100 ms). */
export function onTestLogFlush(flush: () => void): void {
  flushes = [...flushes, flush];
}

/** Writes out held-back entries, so the file holds what was logged by now. */
export function flushTestLog(): void {
  for (const flush of flushes) flush();
}
