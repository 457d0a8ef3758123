import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ActivityDeps } from '../../../src/activities/deps';
import { whileTicking } from '../../../src/activities/heartbeat-ticker';
import { mergeSource } from '../../../src/activities/merge-source';
import { verifyFile } from '../../../src/activities/verify-file';
import { verifyRange } from '../../../src/activities/verify-range';
import { DEFAULT_WORKER_POLICY } from '../../../src/domain/schemas/worker-policy';
import { hostSpecSchema, type HostSpec } from '../../../src/domain/schemas/host';
import type { ShellFragment } from '../../../src/domain/shell-quote';
import type { ExecOptions, ExecResult, SshSession } from '../../../src/hosts/ssh-session';

afterEach(() => {
  vi.useRealTimers();
});

/** Activity deps whose every host is one scripted session: `respond` answers each command. */
function scriptedDeps(respond: (command: string) => Promise<Partial<ExecResult> & { out?: string }>): ActivityDeps {
  const exec = async (command: ShellFragment, _options?: ExecOptions): Promise<ExecResult> => {
    const { out, ...result } = await respond(command.text);
    return { stdout: Buffer.from(out ?? ''), stderr: '', exitCode: 0, ...result };
  };
  const session = {
    // A host per test name, so the worker-wide tool probe cache is not shared between tests.
    host: hostSpecSchema.parse({ address: `h${Math.random().toString(36).slice(2, 8)}.example` }),
    exec,
    run: async (command: ShellFragment, options?: ExecOptions) => (await exec(command, options)).stdout.toString(),
  } as unknown as SshSession;
  return {
    pool: { withSession: <T>(_host: HostSpec, use: (session: SshSession) => Promise<T>) => use(session) },
    hosts: { resolve: (ref: unknown) => ref },
    policy: DEFAULT_WORKER_POLICY,
  } as unknown as ActivityDeps;
}

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('whileTicking', () => {
  it('heartbeats the latest details every interval while the work runs, and stops after', async () => {
    vi.useFakeTimers();
    const beats: unknown[] = [];
    let step = 0;
    const done = gate();
    const work = whileTicking(
      (details) => beats.push(details),
      () => ({ step }),
      () => done.promise,
      1000,
    );
    await vi.advanceTimersByTimeAsync(1000);
    step = 1;
    await vi.advanceTimersByTimeAsync(1000);
    done.open();
    await work;
    await vi.advanceTimersByTimeAsync(5000);
    expect(beats).toEqual([{ step: 0 }, { step: 1 }]);
  });
});

const files = { source: 'a', destination: 'b', sourcePath: '/vms/a.img', destinationPath: '/vms/b.img' };

describe.each([
  [
    'verifyRange',
    (deps: ActivityDeps) => () => verifyRange(deps)({ ...files, range: { start: 0, length: 4 * 1024 ** 3 } }),
  ],
  ['verifyFile', (deps: ActivityDeps) => () => verifyFile(deps)(files)],
])('%s', (_name, activity) => {
  it('heartbeats while both hosts hash for minutes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const hashing = gate();
    const commands: string[] = [];
    const deps = scriptedDeps(async (command) => {
      if (command.includes('command -v')) return { out: 'python3\n' };
      commands.push(command);
      await hashing.promise;
      return { out: `${'ab'.repeat(32)}\n` };
    });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    const run = env.run(activity(deps));
    // Three minutes of hashing, three times the verify activities' heartbeat timeout.
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    expect(beats.length).toBeGreaterThanOrEqual(30);
    expect(beats).toContainEqual({ hashing: true });
    // Both hosts hash at once, each its own file.
    expect(commands).toHaveLength(2);
    expect(commands.some((command) => command.includes('/vms/a.img'))).toBe(true);
    expect(commands.some((command) => command.includes('/vms/b.img'))).toBe(true);
    hashing.open();
    await expect(run).resolves.toMatchObject({
      source: { hex: 'ab'.repeat(32) },
      destination: { hex: 'ab'.repeat(32) },
    });
    await vi.advanceTimersByTimeAsync(60_000);
    const afterwards = beats.length;
    await vi.advanceTimersByTimeAsync(60_000);
    // The ticker stops with the hashing.
    expect(beats).toHaveLength(afterwards);
  });
});

describe('mergeSource', () => {
  it('heartbeats the block job progress at every poll and between them', async () => {
    const overlay = '/vms/web01.kvm-clone-1.qcow2';
    let onOverlay = true;
    let polls = 0;
    const deps = scriptedDeps(async (command) => {
      if (command.includes('domstate')) return { out: 'running\n' };
      if (command.includes('dumpxml')) {
        const file = onOverlay ? overlay : '/vms/web01.qcow2';
        return {
          out: `<domain type='kvm'><name>web01</name><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
        };
      }
      if (command.includes('--info')) return { out: `Active Block Commit: [${Math.min(100, 50 * polls++)} %]` };
      if (command.includes('--pivot')) onOverlay = false;
      return {};
    });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    const outcome = await env.run(mergeSource(deps), {
      source: 'a',
      vmName: 'web01',
      disks: [{ target: 'vda', basePath: '/vms/web01.qcow2', overlayPath: overlay }],
      originalXml: '<domain/>',
    });
    expect(outcome).toBe('merged-live');
    // The first poll heartbeats at once; the others are throttled to one a second.
    expect(beats[0]).toEqual({ target: 'vda', percent: 0 });
    expect(beats.at(-1)).toMatchObject({ target: 'vda' });
  });
});
