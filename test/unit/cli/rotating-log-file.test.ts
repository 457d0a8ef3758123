import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logFileLogger } from '../../../src/cli/log-level';
import { RotatingLogFile } from '../../../src/cli/rotating-log-file';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-log-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('RotatingLogFile', () => {
  it('appends to what the file holds, creating its directory, readable by its owner only', async () => {
    const file = path.join(dir, 'state', 'worker.log');
    new RotatingLogFile(file).write('first\n');
    new RotatingLogFile(file).write('second\n');
    expect(await readFile(file, 'utf8')).toBe('first\nsecond\n');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('moves a full file to <path>.1, replacing the one before, so the two hold at most about twice the limit', async () => {
    const file = path.join(dir, 'worker.log');
    const log = new RotatingLogFile(file, 100);
    for (let line = 0; line < 30; line += 1) log.write(`line ${String(line).padStart(2, '0')} of the worker's log\n`);
    const [current, previous] = await Promise.all([readFile(file, 'utf8'), readFile(log.previousPath, 'utf8')]);
    expect(Buffer.byteLength(current)).toBeLessThanOrEqual(100);
    expect(Buffer.byteLength(previous)).toBeLessThanOrEqual(100);
    // The newest lines are kept, in order, across the two files.
    const numbers = `${previous}${current}`
      .trim()
      .split('\n')
      .map((line) => Number(line.split(' ')[1]));
    expect(numbers.at(-1)).toBe(29);
    expect(numbers).toEqual(numbers.map((_, index) => numbers[0]! + index));
  });

  it('attack: writes nothing through a link put in place of the log or of its predecessor', async () => {
    const victim = path.join(dir, 'victim');
    await writeFile(victim, 'precious\n');
    const file = path.join(dir, 'worker.log');
    await symlink(victim, file);
    expect(() => new RotatingLogFile(file).write('line\n')).toThrow(/not a regular file/);
    await rm(file);
    await writeFile(file, 'x'.repeat(500));
    await symlink(victim, `${file}.1`);
    expect(() => new RotatingLogFile(file, 100).write('line\n')).toThrow(/not a regular file/);
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
    expect(await readFile(file, 'utf8')).toBe('x'.repeat(500));
  });

  it('rotates a file that was already over the limit when opened, on the first write', async () => {
    const file = path.join(dir, 'worker.log');
    await writeFile(file, 'x'.repeat(500));
    new RotatingLogFile(file, 100).write('new\n');
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect(await readFile(`${file}.1`, 'utf8')).toBe('x'.repeat(500));
  });

  it('writes an entry larger than the limit whole, into a file of its own', async () => {
    const file = path.join(dir, 'worker.log');
    const log = new RotatingLogFile(file, 10);
    log.write('short\n');
    log.write(`${'y'.repeat(50)}\n`);
    expect(await readFile(file, 'utf8')).toBe(`${'y'.repeat(50)}\n`);
    expect(await readFile(log.previousPath, 'utf8')).toBe('short\n');
  });

  it('counts what other processes appended to the file, and goes on where one rotated it', async () => {
    const file = path.join(dir, 'worker.log');
    const mine = new RotatingLogFile(file, 100);
    const theirs = new RotatingLogFile(file, 100);
    mine.write(`${'a'.repeat(60)}\n`);
    theirs.write(`${'b'.repeat(60)}\n`); // would pass the limit after a's line: a's goes to .1
    mine.write(`${'c'.repeat(20)}\n`); // fits after b's line; no second rotation loses b's
    expect(await readFile(file, 'utf8')).toBe(`${'b'.repeat(60)}\n${'c'.repeat(20)}\n`);
    expect(await readFile(`${file}.1`, 'utf8')).toBe(`${'a'.repeat(60)}\n`);
  });
});

describe('logFileLogger', () => {
  it('writes entries at its level and above to the file, as the SDK prints them, stacks included', async () => {
    const file = new RotatingLogFile(path.join(dir, 'worker.log'));
    const heard: string[] = [];
    const logger = logFileLogger('warn', file, { error: (m) => heard.push(m), unwritable: (r) => heard.push(r) });
    logger.info('activity started', { activityType: 'inspectSource' });
    logger.warn('Workflow failed', { workflowId: 'clone:a:vm:b:vm2', error: new Error('VM not found') });
    const text = await readFile(file.path, 'utf8');
    expect(text).not.toContain('activity started');
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z \[WARN\] Workflow failed \{\n {2}workflowId: 'clone:a:vm:b:vm2',/);
    expect(text).toContain('Error: VM not found\n      at ');
    expect(heard).toEqual([]);
  });

  it('tells the terminal the message of each ERROR entry, in one line', async () => {
    const file = new RotatingLogFile(path.join(dir, 'worker.log'));
    const errors: string[] = [];
    const logger = logFileLogger('info', file, { error: (m) => errors.push(m), unwritable: () => undefined });
    logger.error('Worker failed', { error: new Error('connection refused') });
    expect(errors).toEqual(['Worker failed']);
    expect(await readFile(file.path, 'utf8')).toContain('connection refused');
  });

  it('says once that the file cannot be written, then drops the log', async () => {
    // A directory where the file should be: unwritable even for root.
    await mkdir(path.join(dir, 'worker.log'));
    const file = new RotatingLogFile(path.join(dir, 'worker.log'));
    const reasons: string[] = [];
    const logger = logFileLogger('info', file, { error: () => undefined, unwritable: (r) => reasons.push(r) });
    logger.info('one');
    logger.info('two');
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/not a regular file/);
  });
});
