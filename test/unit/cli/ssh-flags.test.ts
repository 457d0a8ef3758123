import type { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireOwnWorkerPossible, startOwnWorker } from '../../../src/cli/in-process-worker';
import type { CliContext } from '../../../src/cli/global-options';
import { cloneInputFromFlags, type CloneFlags } from '../../../src/cli/clone-flags';
import { buildProgram } from '../../../src/cli/main';
import { syncInputFromFlags, type SyncFlags } from '../../../src/cli/sync-flags';
import { referenceDefaultsOf, sshFlagsText, type KeyLookup, type SshFlags } from '../../../src/cli/ssh-flags';
import type { TemporalAccess } from '../../../src/cli/temporal-access';
import { exitStatusOf, UsageError } from '../../../src/cli/usage-error';
import type { KvmCloneConfig } from '../../../src/cli/config-schema';
import { ErrorCode, KvmCloneError } from '../../../src/errors';

const readable = new Set(['/home/op/.ssh/kvm_ed25519', '/work/keys/lab', '/srv/key with space']);
const lookup: KeyLookup = { cwd: '/work', home: '/home/op', isReadableFile: (file) => readable.has(file) };

function failure(run: () => unknown): KvmCloneError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KvmCloneError);
    return error as KvmCloneError;
  }
  throw new Error('expected a KvmCloneError');
}

describe('referenceDefaultsOf', () => {
  it('is undefined without -k and --ssh-port: the worker resolves as ssh would on its own', () => {
    expect(referenceDefaultsOf({}, lookup)).toBeUndefined();
  });

  it('takes the key as an absolute path: relative from the directory of the command, ~/ from home', () => {
    expect(referenceDefaultsOf({ sshKey: 'keys/lab' }, lookup)).toEqual({ identityFile: '/work/keys/lab' });
    expect(referenceDefaultsOf({ sshKey: '~/.ssh/kvm_ed25519' }, lookup)).toEqual({
      identityFile: '/home/op/.ssh/kvm_ed25519',
    });
    expect(referenceDefaultsOf({ sshKey: '/work/keys/../keys/lab', sshPort: '2222' }, lookup)).toEqual({
      identityFile: '/work/keys/lab',
      port: 2222,
    });
  });

  it('refuses a key this user cannot read with 1101, before anything starts', () => {
    const error = failure(() => referenceDefaultsOf({ sshKey: 'nokey' }, lookup));
    expect(error.code).toBe(ErrorCode.SSH_KEY_ERROR);
    expect(error.message).toBe('-k/--ssh-key: /work/nokey is not a file this user can read');
  });

  it('refuses a port outside 1-65535 with 1303', () => {
    for (const port of ['0', '65536', 'ssh', '22x', '-1', '1e3', ''])
      expect(failure(() => referenceDefaultsOf({ sshPort: port }, lookup)).code).toBe(ErrorCode.INVALID_PORT);
    expect(referenceDefaultsOf({ sshPort: '65535' }, lookup)).toEqual({ port: 65535 });
  });
});

describe('sshFlagsText', () => {
  it('gives the flags back as they would be typed again, quoted for a shell', () => {
    expect(sshFlagsText(undefined)).toBe('');
    expect(sshFlagsText({ identityFile: '/srv/key with space', port: 2222 })).toBe(
      " -k '/srv/key with space' --ssh-port 2222",
    );
    expect(sshFlagsText({ port: 2222 })).toBe(' --ssh-port 2222');
  });
});

/** What commander parsed for a command line, with every action replaced by a recorder. */
function parsedFlags(argv: string[]): Record<string, unknown> {
  const program = buildProgram();
  let flags: Record<string, unknown> | undefined;
  const record = (command: Command): void => {
    command.action((...params: unknown[]) => {
      flags = (params.at(-1) as Command).opts();
    });
    command.commands.forEach(record);
  };
  program.commands.forEach(record);
  program.parse(['node', 'kvm-clone', ...argv]);
  return flags!;
}

function refused(argv: string[]): { status: number | undefined; stderr: string } {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  let status: number | undefined;
  vi.spyOn(process, 'exit').mockImplementation((code) => {
    status = Number(code);
    throw new Error('exit');
  });
  expect(() => buildProgram().parse(['node', 'kvm-clone', ...argv])).toThrow('exit');
  return { status, stderr };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('-k/--ssh-key and --ssh-port on the command line', () => {
  it('are options of clone, sync and status', () => {
    expect(parsedFlags(['clone', 'a', 'b', 'web01', '-k', 'key', '--ssh-port', '2222'])).toMatchObject({
      sshKey: 'key',
      sshPort: '2222',
    });
    expect(parsedFlags(['sync', 'a', 'b', 'web01', '--ssh-key', 'key'])).toMatchObject({ sshKey: 'key' });
    expect(parsedFlags(['status', 'clone:a:web01:b:web01_clone', '--follow', '--ssh-port', '22'])).toMatchObject({
      sshPort: '22',
    });
  });

  it("are a usage error (exit 2) on a shared worker and on schedules, saying that the worker's config owns keys", () => {
    for (const argv of [
      ['worker', '-k', 'key'],
      ['worker', '--ssh-port', '2222'],
      ['schedule', 'create', 'nightly', '--every', '1d', 'sync', 'a', 'b', 'web01', '-k', 'key'],
    ]) {
      vi.restoreAllMocks();
      const { status, stderr } = refused(argv);
      expect(status).toBe(2);
      expect(stderr).toContain('error 1007 (VALIDATION_ERROR)');
      expect(stderr).toContain("the worker's config owns keys and ports");
    }
  });
});

describe('the workflow input', () => {
  it('never carries the key or the port: they configure only the worker of the command', () => {
    const subject = { source: 'root@kvm1', destination: 'root@kvm2', vmName: 'web01' };
    // All of commander's flags reach the input builders, these two among them.
    const flags: CloneFlags & SyncFlags & SshFlags = { sshKey: '/home/op/.ssh/kvm_ed25519', sshPort: '2222' };
    for (const input of [cloneInputFromFlags(subject, flags), syncInputFromFlags(subject, flags)]) {
      const text = JSON.stringify(input);
      expect(text).not.toContain('kvm_ed25519');
      expect(text).not.toContain('2222');
    }
  });
});

describe('the worker -k/--ssh-port need', () => {
  it('is refused (usage, exit 2) when a Temporal address is configured: a shared worker runs the operation', () => {
    const error = failure(() => requireOwnWorkerPossible({ temporal: { address: 'temporal:7233' } } as KvmCloneConfig));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.code).toBe(ErrorCode.VALIDATION_ERROR);
    expect(exitStatusOf(error)).toBe(2);
    expect(error.message).toContain("a shared worker's config owns its keys and ports");
    expect(() => requireOwnWorkerPossible({ temporal: {} } as KvmCloneConfig)).not.toThrow();
    expect(exitStatusOf(new KvmCloneError(ErrorCode.VALIDATION_ERROR, 'a bad flag value'))).toBe(1);
  });

  it('is refused when another worker already polls the task queue, before the operation starts', async () => {
    const polling = {
      embedded: { uiUrl: 'http://127.0.0.1:8233' },
      namespace: 'default',
      taskQueue: 'kvm-clone',
      connection: {
        workflowService: {
          describeTaskQueue: async () => ({
            pollers: [{ identity: 'worker-1', lastAccessTime: { seconds: Math.floor(Date.now() / 1000) } }],
          }),
        },
      },
    } as unknown as TemporalAccess;
    const config = { temporal: {} } as KvmCloneConfig;
    const error = await startOwnWorker({} as CliContext, config, polling, { port: 2222 }).catch((caught) => caught);
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toContain('a worker already polls task queue kvm-clone');
  });
});
