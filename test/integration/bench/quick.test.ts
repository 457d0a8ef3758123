import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loopDevicesUnavailable } from '../../helpers/loop-device';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

interface ReportRow {
  scenario: string;
  variant: string;
  kind: string;
  mbPerSecond?: number;
  note?: string;
}

/**
 * `npm run bench -- --quick` end to end, so the harness cannot rot. It asserts the shape of
 * the report only: no timings (the numbers live in bench/README.md, as ratios).
 */
describe('bench --quick', () => {
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('measures every quick scenario and writes a report', async () => {
    outDir = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-bench-'));
    const { stdout } = await run(
      path.join(root, 'node_modules/.bin/tsx'),
      ['bench/run.ts', '--quick', '--out', outDir],
      {
        cwd: root,
        maxBuffer: 64 * 1024 * 1024,
        timeout: 600_000,
      },
    );
    expect(stdout).toContain('| scenario | variant |');
    const report = JSON.parse(await readFile(path.join(outDir, 'latest.json'), 'utf8')) as {
      mode: string;
      machine: { cpus: number };
      rows: ReportRow[];
    };
    expect(report.mode).toBe('quick');
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.rows.filter((row) => row.variant === 'ERROR')).toEqual([]);
    for (const scenario of [
      'clone-dense',
      'clone-sparse',
      'parallel',
      'compression',
      'sparse-vs-naive',
      'digest',
      'ssh2-binding',
      'memory',
      'overhead',
      'sync',
      // Needs root and a free loop device; otherwise the row says why it was skipped.
      ...(loopDevicesUnavailable() ? [] : ['block']),
    ]) {
      const measured = report.rows.filter((row) => row.scenario === scenario && row.mbPerSecond !== undefined);
      expect(measured.length, `${scenario} has measured rows`).toBeGreaterThan(0);
      for (const row of measured) expect(row.mbPerSecond, `${scenario} · ${row.variant}`).toBeGreaterThan(0);
    }
    // A baseline may only be missing for a stated reason (e.g. no host-to-host trust).
    for (const row of report.rows.filter((each) => each.kind === 'baseline' && each.mbPerSecond === undefined)) {
      expect(row.note, `${row.scenario} · ${row.variant}`).toMatch(/skipped/);
    }
  }, 600_000);
});
