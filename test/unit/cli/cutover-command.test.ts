import { afterEach, describe, expect, it, vi } from 'vitest';
import { cutoverText } from '../../../src/cli/commands/cutover';
import { buildProgram } from '../../../src/cli/main';

// The command must fail before it reaches Temporal; reaching it here would start the embedded server.
vi.mock('../../../src/cli/temporal-access', () => ({
  connectTemporal: () => Promise.reject(new Error('must not connect')),
}));

/** Runs the CLI, returning its exit status and what it wrote. */
async function run(argv: string[]): Promise<{ status: number | undefined; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  let status: number | undefined;
  vi.spyOn(process, 'exit').mockImplementation((code) => {
    status = Number(code);
    throw new Error('exit');
  });
  await buildProgram()
    .parseAsync(['node', 'kvm-clone', ...argv])
    .catch((error: unknown) => {
      if (!(error instanceof Error && error.message === 'exit')) throw error;
    });
  return { status, stderr, stdout };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('kvm-clone cutover', () => {
  it('refuses an --at without a zone with 1007 before connecting', async () => {
    const { status, stderr } = await run(['cutover', 'migrate:a:web01', '--at', '2026-12-24 02:00']);
    expect(status).toBe(1);
    expect(stderr).toMatch(
      /^kvm-clone: error 1007 \(VALIDATION_ERROR\): --at: '2026-12-24 02:00' is not an ISO 8601 time with a zone/,
    );
    expect(stderr).not.toContain('must not connect');
  });

  it('takes --at or --hold, not both (usage, exit 2)', async () => {
    const { status, stderr } = await run(['cutover', 'migrate:a:web01', '--at', '2026-12-24T02:00:00Z', '--hold']);
    expect(status).toBe(2);
    expect(stderr).toMatch(/error 1007 .*--hold.*cannot be used with.*--at/);
  });

  it('says what was asked for', () => {
    expect(cutoverText({ type: 'cutover', operationId: 'migrate:a:web01', cutover: 'now' })).toContain(
      'cutover of migrate:a:web01 requested',
    );
    expect(
      cutoverText({ type: 'cutover', operationId: 'migrate:a:web01', cutover: 'at', at: '2026-12-24T02:00:00Z' }),
    ).toContain('set for 2026-12-24T02:00:00Z');
    expect(cutoverText({ type: 'cutover', operationId: 'migrate:a:web01', cutover: 'hold' })).toContain(
      'kvm-clone cutover migrate:a:web01',
    );
  });
});
