/**
 * What every scenario shares: the lab (set up with scripts/lab/up), an in-memory Temporal
 * dev server of our own, the workflow bundle, a kvm-clone worker in a child process, a
 * client, bench VMs made on host a, and the measuring helpers.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { KvmCloneClient } from '../../src/client';
import type { CloneInput } from '../../src/domain/schemas/clone-input';
import { hostSpecSchema, type HostSpec } from '../../src/domain/schemas/host';
import type { CloneResult } from '../../src/domain/clone-result';
import { openSshSession, type SshSession } from '../../src/hosts/ssh-session';
import { findTemporalBinary } from '../../src/temporal/binary';
import { startDevServer, type DevServerHandle } from '../../src/temporal/dev-server';
import { findFreePort } from '../../src/temporal/free-port';
import { Lab, type LabVm } from '../../test/helpers/lab';
import { processCpuSeconds, processIo } from './proc';
import { q, runShell } from './shell';
import type { MemoryPeak } from './memory-peak';

const run = promisify(execFile);
export const root = path.resolve(__dirname, '../..');

/** One measurement. */
export interface Sample {
  seconds: number;
  /** Bytes of disk the run copied, as the user sees them: the files' apparent sizes. */
  logicalBytes: number;
  /** Bytes that crossed the wire, where the tool or our accounting can tell. */
  wireBytes?: number;
  /** CPU seconds of the copying client: the kvm-clone worker, or the OpenSSH/rsync client processes. */
  clientCpu?: number;
  /** CPU seconds of the lab hosts' sshd process trees (dd, rsync, python… on the hosts). */
  hostCpu?: number;
  peakRssBytes?: number;
  peakHeapBytes?: number;
  /** The worker's RSS when the clone started. */
  startRssBytes?: number;
  /** Activity attempts that failed or timed out and were retried (a shared lab's hiccups show here). */
  retries?: number;
  note?: string;
}

export interface Sizes {
  /** Dense random data disk for the full-clone and parallel scenarios. */
  dense: number;
  /** Sparse disk: apparent size and data in it. */
  sparse: { size: number; data: number };
  /** The "larger disk" of the memory scenario. */
  memoryLarge: { size: number; data: number };
  /** Data of the small VM (overhead scenario, small disk of the memory scenario). */
  small: number;
  /** Stream size for the relay scenarios (compression, native binding). */
  relay: number;
  /** File size for the hashing scenario. */
  hash: number;
  /** Data of the resume scenario's disk, and its pace. */
  resume: { data: number; bandwidth: string };
  /** Dense random data disk of the sync scenario (1% of its blocks changed between runs). */
  sync: number;
  runs: number;
}

export type VmKind = 'dense' | 'sparse' | 'memory-large' | 'small' | 'resume' | 'sync';

export interface BenchVm extends LabVm {
  kind: VmKind;
  /** Apparent bytes of every file a clone copies (root qcow2 + data disk). */
  apparentBytes: number;
  /** Allocated (data) bytes of those files. */
  dataBytes: number;
}

interface WorkerHandle {
  child: ChildProcess;
  pid: number;
  bindingLoaded: boolean;
  exited: Promise<void>;
}

/** A data file on host a for the relay and hashing scenarios. */
export interface SampleFile {
  path: string;
  size: number;
}

export class Bench {
  readonly lab: Lab;
  readonly labFile: string;
  readonly started = new Date();
  readonly workDir: string;
  client!: KvmCloneClient;
  private server!: DevServerHandle;
  private connection!: Connection;
  private taskQueue = `bench-${randomBytes(4).toString('hex')}`;
  private worker: WorkerHandle | undefined;
  private readonly vms = new Map<VmKind, Promise<BenchVm>>();
  private readonly files = new Map<string, Promise<SampleFile>>();
  private sessions: { a: SshSession; b: SshSession } | undefined;
  private cloneCount = 0;
  private trust: Promise<{ ok: boolean; reason?: string }> | undefined;
  private sampler: Promise<ChildProcess> | undefined;
  private windowCount = 0;
  /** What scenarios left outside the bench's VMs and directories (e.g. a sync target on b), undone by stop(). */
  private readonly cleanups: (() => Promise<void>)[] = [];

  private constructor(
    labFile: string,
    readonly sizes: Sizes,
    readonly log: (line: string) => void,
  ) {
    this.labFile = labFile;
    this.lab = new Lab(labFile);
    this.workDir = `vms/bench-${process.pid}-${randomBytes(2).toString('hex')}`;
  }

  static async start(sizes: Sizes, log: (line: string) => void): Promise<Bench> {
    log('setting up the lab (scripts/lab/up) and the Temporal dev server…');
    const [lab, binary] = await Promise.all([
      run(path.join(root, 'scripts/lab/up'), [], { maxBuffer: 16 * 1024 * 1024 }),
      findTemporalBinary(),
    ]);
    if (!binary.path) throw new Error('no Temporal CLI: run scripts/setup first');
    const bench = new Bench(lab.stdout.trim(), sizes, log);
    bench.server = await startDevServer({ binary: binary.path, port: await findFreePort(), headless: true });
    bench.connection = await Connection.connect({ address: bench.server.address });
    bench.client = new KvmCloneClient(new Client({ connection: bench.connection }), bench.taskQueue);
    await bench.startWorker();
    // One untimed clone first: JIT, the tool probe and the pool's first connections.
    bench.log('warming up with one untimed clone of the small VM…');
    await bench.clone(await bench.vm('small'), {});
    return bench;
  }

  /** Stops what the bench started and removes its VMs and files; the lab itself stays. */
  async stop(): Promise<void> {
    this.sessions?.a.close();
    this.sessions?.b.close();
    await this.stopWorker().catch(() => undefined);
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    for (const vm of this.vms.values()) {
      const made = await vm.catch(() => undefined);
      if (made) await this.lab.removeVm('a', made).catch(() => undefined);
    }
    for (const host of ['a', 'b'])
      await rm(path.join(this.lab.host(host).vmDir, '..', this.workDir), { recursive: true, force: true });
    await this.connection?.close().catch(() => undefined);
    await this.server?.stop();
    const sampler = await this.sampler?.catch(() => undefined);
    sampler?.kill();
  }

  /**
   * Registers something for stop() to undo, even when the run is interrupted; returns a function that runs it now
   * instead.
   */
  atStop(cleanup: () => Promise<void>): () => Promise<void> {
    this.cleanups.push(cleanup);
    return async () => {
      const index = this.cleanups.indexOf(cleanup);
      if (index >= 0) this.cleanups.splice(index, 1);
      await cleanup();
    };
  }

  // ---- hosts ----------------------------------------------------------------

  hostSpec(name: 'a' | 'b'): HostSpec {
    return hostSpecSchema.parse(this.lab.hostSpec(name));
  }

  homeOf(name: 'a' | 'b'): string {
    return path.dirname(this.lab.host(name).vmDir);
  }

  /** A directory of this run on a host, owned by the host's user. */
  async scratchDir(host: 'a' | 'b', name: string): Promise<string> {
    const dir = path.join(this.homeOf(host), this.workDir, name);
    await mkdir(dir, { recursive: true });
    await run('chown', ['-R', `${this.lab.host(host).user}:`, path.join(this.homeOf(host), this.workDir)]);
    return dir;
  }

  /**
   * Starts measuring the CPU of both lab sshds and everything they run (other users of the
   * lab included); the function returned ends the window and gives the CPU seconds.
   */
  async hostCpuWindow(): Promise<() => Promise<number>> {
    const sampler = await this.hostSampler();
    const id = String(++this.windowCount);
    await this.askSampler(sampler, { type: 'start', id }, 'ready-window');
    return async () => (await this.askSampler(sampler, { type: 'stop', id }, 'cpu')).seconds;
  }

  private hostSampler(): Promise<ChildProcess> {
    this.sampler ??= new Promise((resolve, reject) => {
      const pids = ['a', 'b'].map((host) =>
        Number(readFileSync(path.join(this.lab.file.labDir, 'sshd', host, 'sshd.pid'), 'utf8').trim()),
      );
      const child = fork(path.join(__dirname, 'host-cpu-sampler.ts'), [JSON.stringify(pids)], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.once('message', () => resolve(child));
      child.once('exit', (code) => reject(new Error(`the host CPU sampler exited (${code})`)));
    });
    return this.sampler;
  }

  private askSampler(
    sampler: ChildProcess,
    message: { type: string; id: string },
    answer: string,
  ): Promise<{ seconds: number }> {
    if (answer === 'ready-window') {
      // 'start' has no answer; the sampler handles messages in order, so the window is open
      // before any later 'stop' is read.
      sampler.send(message);
      return Promise.resolve({ seconds: 0 });
    }
    return new Promise((resolve) => {
      const listener = (reply: { type: string; id: string; seconds: number }) => {
        if (reply.type !== answer || reply.id !== message.id) return;
        sampler.off('message', listener);
        resolve(reply);
      };
      sampler.on('message', listener);
      sampler.send(message);
    });
  }

  /** ssh as a lab host's user with the lab's client key, as a shell word list. */
  sshCommand(host: 'a' | 'b'): string {
    const spec = this.lab.host(host);
    return [
      'ssh -q',
      `-i ${q(this.lab.file.identityFile)}`,
      '-o BatchMode=yes',
      `-o UserKnownHostsFile=${q(this.lab.file.knownHostsFile)}`,
      '-o StrictHostKeyChecking=yes',
      `-c ${opensshCipher}`,
      `-p ${spec.port}`,
      `${spec.user}@${spec.address}`,
    ].join(' ');
  }

  /** `ssh` from host a to host b, as host a's user would type it (host-to-host trust). */
  hostToHostSsh(): string {
    const b = this.lab.host('b');
    return `ssh -q -o BatchMode=yes -o StrictHostKeyChecking=yes -c ${opensshCipher} -p ${b.port} ${b.user}@${b.address}`;
  }

  /** Whether host a's user can ssh to host b on its own (scripts/lab/up's host-to-host trust). */
  hostToHostTrust(): Promise<{ ok: boolean; reason?: string }> {
    this.trust ??= (async () => {
      const key = path.join(this.homeOf('a'), '.ssh', 'id_ed25519');
      if (!existsSync(key))
        return {
          ok: false,
          reason:
            'skipped: no host-to-host trust (no ~/.ssh/id_ed25519 for the lab users; scripts/lab/up does not set it up yet)',
        };
      try {
        await runShell(`${this.sshCommand('a')} ${q(`${this.hostToHostSsh()} true`)}`, { timeoutMs: 20_000 });
        return { ok: true };
      } catch (error) {
        return {
          ok: false,
          reason: `skipped: host-to-host ssh from a to b fails: ${(error as Error).message.slice(0, 200)}`,
        };
      }
    })();
    return this.trust;
  }

  /** Two ssh2 sessions of the product's own kind, for the in-process relay scenarios. */
  async relaySessions(): Promise<{ a: SshSession; b: SshSession }> {
    this.sessions ??= { a: await openSshSession(this.hostSpec('a')), b: await openSshSession(this.hostSpec('b')) };
    return this.sessions;
  }

  // ---- data -----------------------------------------------------------------

  /**
   * A bench VM on host a, made once per run with make-vm, its data disk then replaced:
   * dense random, sparse with random chunks, or small.
   */
  vm(kind: VmKind): Promise<BenchVm> {
    let vm = this.vms.get(kind);
    if (!vm) {
      vm = this.makeVm(kind);
      this.vms.set(kind, vm);
    }
    return vm;
  }

  private async makeVm(kind: VmKind): Promise<BenchVm> {
    const name = `bench-${kind}-${randomBytes(3).toString('hex')}`;
    const made = await this.lab.makeVm('a', name, {
      dir: path.join(this.homeOf('a'), this.workDir, name),
      dataSize: '1M',
    });
    const s = this.sizes;
    const layout: { size: number; data: number } =
      kind === 'dense'
        ? { size: s.dense, data: s.dense }
        : kind === 'sparse'
          ? s.sparse
          : kind === 'memory-large'
            ? s.memoryLarge
            : kind === 'resume'
              ? { size: s.resume.data, data: s.resume.data }
              : kind === 'sync'
                ? { size: s.sync, data: s.sync }
                : { size: s.small, data: s.small };
    this.log(`making ${kind} VM ${name}: data disk ${layout.size} bytes, ${layout.data} of them data`);
    await writeRandomLayout(made.dataPath, layout.size, layout.data, name);
    await run('chown', [`${this.lab.host('a').user}:`, made.dataPath]);
    const { apparent, allocated } = await fileSizes([made.rootPath, made.dataPath]);
    return { ...made, kind, apparentBytes: apparent, dataBytes: allocated };
  }

  /** A data file on host a: random (incompressible) or OS files (compressible, a tar of /usr). */
  sampleFile(kind: 'random' | 'compressible', size: number): Promise<SampleFile> {
    const key = `${kind}-${size}`;
    let file = this.files.get(key);
    if (!file) {
      file = (async () => {
        const dir = await this.scratchDir('a', 'samples');
        const filePath = path.join(dir, `${key}.img`);
        if (kind === 'random') await writeRandomLayout(filePath, size, size, key);
        else
          await runShell(
            `tar -cf - /usr 2>/dev/null | head -c ${size} >${q(filePath)} || true; [ "$(stat -c %s ${q(filePath)})" -eq ${size} ]`,
          );
        await run('chown', [`${this.lab.host('a').user}:`, filePath]);
        return { path: filePath, size };
      })();
      this.files.set(key, file);
    }
    return file;
  }

  // ---- worker and clones ----------------------------------------------------

  get workerPid(): number {
    if (!this.worker) throw new Error('no worker');
    return this.worker.pid;
  }

  get workerBindingLoaded(): boolean {
    return this.worker?.bindingLoaded ?? false;
  }

  async startWorker(): Promise<void> {
    const options = {
      address: this.server.address,
      taskQueue: this.taskQueue,
      // a → b as libvirt's ssh transport can take it too (the migrate scenario's live mode).
      hosts: this.lab.aliasesForLiveMode('a', 'b'),
      policy: this.lab.policy(),
    };
    const child = fork(path.join(__dirname, 'worker-child.cjs'), [JSON.stringify(options)], {
      execArgv: ['--no-warnings=KVM_CLONE_SSH2_NO_BINDING'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const ready = await new Promise<{ bindingLoaded: boolean }>((resolve, reject) => {
      child.once('message', (message: { type: string; bindingLoaded: boolean }) => resolve(message));
      child.once('exit', (code) => reject(new Error(`the worker process exited (${code}) before it was ready`)));
    });
    this.worker = { child, pid: child.pid!, bindingLoaded: ready.bindingLoaded, exited };
  }

  async stopWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    worker.child.send({ type: 'stop' });
    const timer = setTimeout(() => worker.child.kill('SIGKILL'), 15_000);
    await worker.exited;
    clearTimeout(timer);
  }

  /** SIGKILLs the worker process, as a crash or the OOM killer would. */
  async killWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    worker.child.kill('SIGKILL');
    await worker.exited;
  }

  private ask<T>(message: { type: string }, answer: string): Promise<T> {
    const child = this.worker!.child;
    return new Promise((resolve) => {
      const listener = (reply: { type: string }) => {
        if (reply.type !== answer) return;
        child.off('message', listener);
        resolve(reply as T);
      };
      child.on('message', listener);
      child.send(message);
    });
  }

  resetWorkerMemory(): Promise<void> {
    return this.ask({ type: 'reset' }, 'reset-done');
  }

  workerPeak(): Promise<MemoryPeak> {
    return this.ask({ type: 'peak' }, 'peak');
  }

  /**
   * One clone through the real workflow, a → b, with the client's wall time; the clone is
   * removed from b afterwards. wireBytes are what the worker wrote to its sockets.
   */
  async clone(
    vm: BenchVm,
    options: Partial<CloneInput> = {},
    hooks: { whileRunning?: (operationId: string) => Promise<void> } = {},
  ): Promise<Sample & { result: CloneResult }> {
    const newName = `${vm.name}-c${++this.cloneCount}`;
    const destDir = await this.scratchDir('b', newName);
    await this.resetWorkerMemory();
    const pid = this.workerPid;
    const cpu0 = processCpuSeconds(pid);
    const io0 = processIo(pid);
    const stopHostCpu = await this.hostCpuWindow();
    const started = performance.now();
    const handle = await this.client.startClone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      newName,
      destDir,
      ...options,
    });
    const running = hooks.whileRunning?.(handle.workflowId);
    const result = await this.client.result<CloneResult>(handle.workflowId);
    const seconds = (performance.now() - started) / 1000;
    const history = await this.client.temporal.workflow.getHandle(handle.workflowId).fetchHistory();
    const retries = (history.events ?? []).filter(
      (event) => event.activityTaskFailedEventAttributes || event.activityTaskTimedOutEventAttributes,
    ).length;
    await running;
    const hostCpu = await stopHostCpu();
    // The worker may have changed (resume): then the caller accounts for it.
    const samePid = this.worker?.pid === pid;
    const peak = samePid ? await this.workerPeak() : undefined;
    const sample: Sample & { result: CloneResult } = {
      seconds,
      logicalBytes: vm.apparentBytes,
      wireBytes: samePid ? processIo(pid).writeBytes - io0.writeBytes : result.bytesTransferred,
      clientCpu: samePid ? processCpuSeconds(pid) - cpu0 : undefined,
      hostCpu,
      peakRssBytes: peak?.rssBytes,
      peakHeapBytes: peak?.heapUsedBytes,
      startRssBytes: peak?.startRssBytes,
      retries,
      ...(retries > 0 ? { note: `${retries} activity retr${retries === 1 ? 'y' : 'ies'}` } : {}),
      result,
    };
    await this.removeClone(newName, destDir);
    return sample;
  }

  async removeClone(newName: string, destDir: string): Promise<void> {
    await this.lab.virsh('b', 'undefine', '--nvram', '--domain', newName).catch(() => undefined);
    await rm(destDir, { recursive: true, force: true });
    await settle(destDir);
  }

  /** Runs a baseline shell script on this machine; host and client CPU measured around it. */
  async baseline(
    script: string,
    logicalBytes: number,
    wireBytes?: (stdout: string) => number | undefined,
  ): Promise<Sample> {
    const stopHostCpu = await this.hostCpuWindow();
    const started = performance.now();
    const outcome = await runShell(script, { timeoutMs: 30 * 60_000 });
    const seconds = (performance.now() - started) / 1000;
    return {
      seconds,
      logicalBytes,
      wireBytes: wireBytes?.(outcome.stdout),
      clientCpu: outcome.childCpuSeconds,
      hostCpu: await stopHostCpu(),
    };
  }
}

/** aes128-gcm: ssh2's default on AES-NI, and OpenSSH's fastest cipher here, so the baselines are at their best. */
export const opensshCipher = 'aes128-gcm@openssh.com';

/** Flushes dirty pages of the destination's filesystem, so one run's writeback does not slow the next. */
export async function settle(anyPath: string): Promise<void> {
  await run('sync', ['-f', path.dirname(anyPath)]).catch(() => run('sync'));
}

/**
 * Writes a file of `size` apparent bytes with `data` bytes of random data spread over 16
 * evenly spaced, MiB-aligned chunks (one contiguous run when data == size).
 */
export async function writeRandomLayout(file: string, size: number, data: number, seed: string): Promise<void> {
  const random = (bytes: number, chunkSeed: string) =>
    `openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:${q(chunkSeed)} -in /dev/zero 2>/dev/null | head -c ${bytes}`;
  if (data >= size) {
    await runShell(
      `rm -f ${q(file)}; { ${random(size, seed)} || true; } >${q(file)}; [ "$(stat -c %s ${q(file)})" -eq ${size} ]`,
    );
    return;
  }
  const chunks = 16;
  const MiB = 1024 * 1024;
  const chunk = Math.max(MiB, Math.floor(data / chunks / MiB) * MiB);
  const spacing = Math.floor(size / chunks / MiB) * MiB;
  const lines = [`rm -f ${q(file)}`, `truncate -s ${size} ${q(file)}`];
  for (let i = 0; i < chunks; i++) {
    lines.push(
      `{ ${random(chunk, `${seed}-${i}`)} || true; } | dd of=${q(file)} bs=4M iflag=fullblock oflag=seek_bytes seek=${i * spacing} conv=notrunc status=none`,
    );
  }
  await runShell(lines.join('\n'));
}

async function fileSizes(files: string[]): Promise<{ apparent: number; allocated: number }> {
  let apparent = 0;
  let allocated = 0;
  for (const file of files) {
    const { stdout } = await run('stat', ['-c', '%s %b %B', file]);
    const [size, blocks, blockSize] = stdout.trim().split(' ').map(Number);
    apparent += size!;
    allocated += Math.min(size!, blocks! * blockSize!);
  }
  return { apparent, allocated };
}
