/**
 * Vitest setup file (setupFiles) of the projects whose tests run Temporal workers: each test
 * file gets a log file for the SDK's log (see test-log.ts), and a failed test is followed
 * by what was logged during it. A file whose tests all passed leaves no log behind.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { flushTestLog, TEST_LOG_DIR, TEST_LOG_FILE_ENV } from './test-log-file';

/** How much of a failed test's log is printed; the file has all of it. */
const PRINTED_LINES = 200;

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  const length = sizeOf(file) - offset;
  if (length <= 0) return '';
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8');
}

function printLog(title: string, file: string, text: string): void {
  const lines = text.trimEnd().split('\n');
  const shown = lines.slice(-PRINTED_LINES);
  const omitted = lines.length - shown.length;
  const where = omitted > 0 ? `the last ${shown.length} of ${lines.length} lines; all in ${file}` : file;
  process.stderr.write(`\n--- Temporal SDK log of ${title} (${where}) ---\n${shown.join('\n')}\n--- end of log ---\n`);
}

let file = '';
let failed = false;

// The suite is the second argument; vitest requires the first (fixtures) to be destructured.
// eslint-disable-next-line no-empty-pattern
beforeAll(({}, suite) => {
  mkdirSync(TEST_LOG_DIR, { recursive: true });
  file = path.join(TEST_LOG_DIR, `${path.basename(suite.file.filepath)}-${process.pid}.log`);
  // Worker processes a test starts inherit it.
  process.env[TEST_LOG_FILE_ENV] = file;
});

beforeEach(({ onTestFailed, task }) => {
  flushTestLog();
  const start = sizeOf(file);
  onTestFailed(() => {
    failed = true;
    flushTestLog();
    const text = readFrom(file, start);
    if (text) printLog(`"${task.name}"`, file, text);
  });
});

// Runs after the file's own afterAll hooks (they run in reverse order), so the worker's last lines are in.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, suite) => {
  const hookFailed = (suite.result?.errors?.length ?? 0) > 0;
  flushTestLog();
  if (hookFailed && !failed) {
    const text = readFrom(file, 0);
    if (text) printLog(path.basename(suite.file.filepath), file, text);
  }
  if (!failed && !hookFailed) rmSync(file, { force: true });
});
