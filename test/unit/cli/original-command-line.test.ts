import type { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../../src/cli/main';

/** The program with every command's action replaced by a recorder of what commander parsed. */
function parsedBy(argv: string[]): {
  command: string;
  args: unknown[];
  flags: Record<string, unknown>;
  global: object;
} {
  const program = buildProgram();
  let seen: ReturnType<typeof parsedBy> | undefined;
  const record = (command: Command): void => {
    command.action((...params: unknown[]) => {
      const self = params.at(-1) as Command;
      seen = { command: self.name(), args: params.slice(0, -2), flags: self.opts(), global: program.opts() };
    });
    command.commands.forEach(record);
  };
  program.commands.forEach(record);
  program.parse(['node', 'kvm-clone', ...argv]);
  if (!seen) throw new Error(`no command ran for ${argv.join(' ')}`);
  return seen;
}

/** What the CLI writes and its exit status when commander refuses the command line. */
function refused(argv: string[]): { status: number | undefined; stderr: string; stdout: string } {
  let stderr = '';
  let stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  let status: number | undefined;
  vi.spyOn(process, 'exit').mockImplementation((code) => {
    status = Number(code);
    throw new Error('exit');
  });
  expect(() => buildProgram().parse(['node', 'kvm-clone', ...argv])).toThrow('exit');
  return { status, stderr, stdout };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the original tool's command line", () => {
  it('clone takes -n, -f, -p and -b', () => {
    const { command, args, flags } = parsedBy(['clone', 'a', 'b', 'web01', '-n', 'copy', '-f', '-p', '2', '-b', '10M']);
    expect(command).toBe('clone');
    expect(args).toEqual(['a', 'b', 'web01']);
    expect(flags).toMatchObject({ newName: 'copy', force: true, parallel: '2', bandwidthLimit: '10M' });
  });

  it('sync takes -t for the target name and -b', () => {
    const { flags } = parsedBy(['sync', 'a', 'b', 'web01', '-t', 'standby', '-b', '1G']);
    expect(flags).toMatchObject({ targetName: 'standby', bandwidthLimit: '1G' });
  });

  it('list takes -s for the state and --format table|json, which sets the output format', () => {
    expect(parsedBy(['list', 'a', '-s', 'running', '--format', 'json']).flags).toEqual({
      status: 'running',
      format: 'json',
    });
    expect(parsedBy(['list', '--format', 'table']).flags).toMatchObject({ format: 'table' });
    expect(refused(['list', '--format', 'xml'])).toMatchObject({ status: 2 });
  });

  it('status takes -a for finished operations too', () => {
    expect(parsedBy(['status', '-a']).flags).toMatchObject({ all: true });
  });

  it('--log-level takes a level in any case', () => {
    expect(parsedBy(['--log-level', 'DEBUG', 'status']).global).toMatchObject({ logLevel: 'debug' });
    expect(parsedBy(['--log-level', 'Warn', 'status']).global).toMatchObject({ logLevel: 'warn' });
  });

  it('a usage mistake exits with status 2 and code 1007, and -o json prints its error document', () => {
    const unknownLevel = refused(['--log-level', 'verbose', 'status']);
    expect(unknownLevel.status).toBe(2);
    expect(unknownLevel.stderr).toMatch(/^kvm-clone: error 1007 \(VALIDATION_ERROR\): .*error, warn, info, debug/);

    vi.restoreAllMocks();
    const missing = refused(['-o', 'json', 'clone', 'a', 'b']);
    expect(missing.status).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ type: 'error', code: 1007, codeName: 'VALIDATION_ERROR' });
  });
});
