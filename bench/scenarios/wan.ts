/**
 * The WAN scenario (issue 19): a delay proxy (bench/lib/delay-proxy.ts) in front of host a's and host b's sshd, and
 * the dense VM copied through them at 0, 20 and 50 ms of added round trip: kvm-clone's relay (verify off) by a worker
 * of its own whose host specs point at the proxies, against single OpenSSH streams (`ssh a dd | ssh b dd`, rsync from
 * a to b), and `scp -3`. At 0 ms the same copies without the proxy show what the proxy itself costs, and at each
 * level a round-trip check measures the latency the proxy actually adds.
 *
 * Each connection to a host crosses one emulated link: a relay (the worker, `ssh | ssh`, `scp -3`) crosses two, client
 * to a and client to b; rsync from a to b crosses one. Everything is made here and removed at the end, failed or not.
 */
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import { KvmCloneClient } from '../../src/client';
import type { CloneResult } from '../../src/domain/clone-result';
import { opensshCipher, root, settle, type Bench, type BenchVm, type Sample } from '../lib/context';
import { DelayProxy } from '../lib/delay-proxy';
import { rsyncBytesSent } from './copy-baselines';
import { processCpuSeconds, processIo } from '../lib/proc';
import { judge, measureAll, type Row, type Scenario, type Variant } from '../lib/scenario';
import { q, runShell } from '../lib/shell';
import { formatSize, median } from '../lib/stats';

/** Round trips added, in ms; 0 is the check that the proxy is not the bottleneck. */
export const wanRtts = [0, 20, 50];
/** The proxies' queue bound per direction: far above 1 Gbit/s × 50 ms ≈ 6 MB, so the delay, not it, sets the pace. */
const maxQueuedBytes = 64 * 1024 * 1024;
const echoRoundTrips = 10;
const connectRuns = 5;

type HostName = 'a' | 'b';

/** What the scenario sets up: a proxy per host on one common port, known_hosts for it, and a worker using them. */
interface WanLab {
  proxies: Record<HostName, DelayProxy>;
  port: number;
  /** known_hosts for this machine's clients: `[address]:port` of both proxies, with the hosts' keys. */
  knownHosts: string;
  /** known_hosts on host a for its rsync to b's proxy; undefined without host-to-host trust. */
  hostAKnownHosts?: string;
  worker?: { child: ChildProcess; pid: number; exited: Promise<void>; client: KvmCloneClient };
  /** Why the kvm-clone rows are skipped, when they are. */
  workerSkip?: string;
}

/** The key lines of `host` in a known_hosts file, re-addressed to `port`; throws when the file has none. */
export function knownHostsFor(text: string, address: string, labPort: number, port: number): string[] {
  const name = labPort === 22 ? address : `[${address}]:${labPort}`;
  const lines = text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 3 && fields[0]!.split(',').includes(name))
    .map((fields) => [`[${address}]:${port}`, ...fields.slice(1)].join(' '));
  if (lines.length === 0) throw new Error(`no key for ${name} in the lab's known_hosts`);
  return lines;
}

/** Both proxies on the same port (of their own addresses), so that `scp -3 -P` reaches both. */
async function startProxies(bench: Bench): Promise<{ proxies: Record<HostName, DelayProxy>; port: number }> {
  const a = bench.lab.host('a');
  const b = bench.lab.host('b');
  let lastError: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    const proxyA = await DelayProxy.start({
      listenHost: a.address,
      targetHost: a.address,
      targetPort: a.port,
      maxQueuedBytes,
    });
    try {
      const proxyB = await DelayProxy.start({
        listenHost: b.address,
        listenPort: proxyA.port,
        targetHost: b.address,
        targetPort: b.port,
        maxQueuedBytes,
      });
      return { proxies: { a: proxyA, b: proxyB }, port: proxyA.port };
    } catch (error) {
      lastError = error;
      await proxyA.stop();
    }
  }
  throw new Error(`no port free on both ${a.address} and ${b.address}: ${(lastError as Error).message}`);
}

/** ssh to a host through its proxy (or straight to its sshd with `port` undefined), as a shell word list. */
function ssh(bench: Bench, lab: WanLab | undefined, host: HostName): string {
  const spec = bench.lab.host(host);
  return [
    'ssh -q',
    `-i ${q(bench.lab.file.identityFile)}`,
    '-o BatchMode=yes',
    `-o UserKnownHostsFile=${q(lab ? lab.knownHosts : bench.lab.file.knownHostsFile)}`,
    '-o StrictHostKeyChecking=yes',
    `-c ${opensshCipher}`,
    `-p ${lab ? lab.port : spec.port}`,
    `${spec.user}@${spec.address}`,
  ].join(' ');
}

type Tool = 'ssh dd relay' | 'scp -3' | 'rsync host-to-host';

/** Copies the VM's files a → b with an OpenSSH or rsync command, through the proxies (or not, with `lab` undefined). */
async function copyWith(bench: Bench, tool: Tool, vm: BenchVm, lab: WanLab | undefined, tag: string): Promise<Sample> {
  const a = bench.lab.host('a');
  const b = bench.lab.host('b');
  const dir = await bench.scratchDir('b', `wan-${tag}-${randomBytes(3).toString('hex')}`);
  const files = [vm.rootPath, vm.dataPath];
  const target = (file: string) => path.join(dir, path.basename(file));
  let script: string;
  let wire: ((stdout: string) => number | undefined) | undefined = () => vm.apparentBytes;
  switch (tool) {
    case 'ssh dd relay':
      script = files
        .map(
          (file) =>
            `${ssh(bench, lab, 'a')} ${q(`dd if=${q(file)} bs=4M status=none`)} | ${ssh(bench, lab, 'b')} ${q(`dd of=${q(target(file))} bs=4M status=none`)}`,
        )
        .join('\n');
      break;
    case 'scp -3': {
      const knownHosts = lab ? lab.knownHosts : bench.lab.file.knownHostsFile;
      const options = `-i ${q(bench.lab.file.identityFile)} -o BatchMode=yes -o UserKnownHostsFile=${q(knownHosts)} -o StrictHostKeyChecking=yes`;
      script = `scp -3 -q ${options} -c ${opensshCipher} -P ${lab ? lab.port : a.port} ${files.map((file) => q(`${a.user}@${a.address}:${file}`)).join(' ')} ${q(`${b.user}@${b.address}:${dir}/`)}`;
      break;
    }
    case 'rsync host-to-host': {
      if (!lab?.hostAKnownHosts) throw new Error('rsync through the proxy needs host-to-host trust');
      const rsh = `ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${q(lab.hostAKnownHosts)} -c ${opensshCipher} -p ${lab.port}`;
      script = `${ssh(bench, undefined, 'a')} ${q(`rsync --stats -e ${q(rsh)} ${files.map(q).join(' ')} ${q(`${b.user}@${b.address}:${dir}/`)}`)}`;
      wire = rsyncBytesSent;
      break;
    }
  }
  try {
    return await bench.baseline(script, vm.apparentBytes, wire);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await settle(dir);
  }
}

/** A kvm-clone worker in a child process (as the bench's own), whose hosts a and b are the proxies. */
async function startWorker(bench: Bench, lab: WanLab): Promise<NonNullable<WanLab['worker']>> {
  const address = (bench.client.temporal.connection as Connection).options.address;
  const taskQueue = `bench-wan-${randomBytes(4).toString('hex')}`;
  const hosts = Object.fromEntries(
    (['a', 'b'] as const).map((name) => [
      name,
      bench.lab.hostSpec(name, { port: lab.port, knownHostsFile: lab.knownHosts }),
    ]),
  );
  const child = fork(
    path.join(root, 'bench/lib/worker-child.cjs'),
    [JSON.stringify({ address, taskQueue, hosts, policy: bench.lab.policy() })],
    { execArgv: ['--no-warnings=KVM_CLONE_SSH2_NO_BINDING'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the WAN worker exited (${code}) before it was ready`)));
  });
  return { child, pid: child.pid!, exited, client: new KvmCloneClient(bench.client.temporal, taskQueue) };
}

async function stopWorker(worker: WanLab['worker']): Promise<void> {
  if (!worker) return;
  worker.child.send({ type: 'stop' });
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 15_000);
  await worker.exited;
  clearTimeout(timer);
}

let cloneCount = 0;

/** One relay clone (verify off) by the WAN worker, through the proxies; the clone is removed afterwards. */
async function cloneThroughProxies(bench: Bench, lab: WanLab, vm: BenchVm): Promise<Sample> {
  const worker = lab.worker!;
  const newName = `${vm.name}-w${++cloneCount}`;
  const destDir = await bench.scratchDir('b', newName);
  try {
    const cpu0 = processCpuSeconds(worker.pid);
    const io0 = processIo(worker.pid);
    const stopHostCpu = await bench.hostCpuWindow();
    const started = performance.now();
    const handle = await worker.client.startClone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      newName,
      destDir,
      verify: false,
    });
    const result = await worker.client.result<CloneResult>(handle.workflowId);
    const seconds = (performance.now() - started) / 1000;
    const hostCpu = await stopHostCpu();
    const history = await worker.client.temporal.workflow.getHandle(handle.workflowId).fetchHistory();
    const retries = (history.events ?? []).filter(
      (event) => event.activityTaskFailedEventAttributes || event.activityTaskTimedOutEventAttributes,
    ).length;
    return {
      seconds,
      logicalBytes: vm.apparentBytes,
      wireBytes: processIo(worker.pid).writeBytes - io0.writeBytes || result.bytesTransferred,
      clientCpu: processCpuSeconds(worker.pid) - cpu0,
      hostCpu,
      retries,
      ...(retries > 0 ? { note: `${retries} activity retr${retries === 1 ? 'y' : 'ies'}` } : {}),
    };
  } finally {
    await bench.removeClone(newName, destDir);
  }
}

/** Adds the CPU this process spent (the proxies, mostly) to a sample's note. */
function withProxyCpu(measure: () => Promise<Sample>, proxied: boolean): () => Promise<Sample> {
  return async () => {
    const before = process.cpuUsage();
    const sample = await measure();
    const used = process.cpuUsage(before);
    if (proxied) {
      const cpu = `proxy CPU ${((used.user + used.system) / 1e6).toFixed(2)} s`;
      sample.note = [sample.note, cpu].filter(Boolean).join('; ');
    }
    return sample;
  };
}

/** Milliseconds of `count` line echoes over one ssh session (`cat` on the host), after one untimed echo. */
export function echoRoundTripsMs(sshWords: string, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `exec ${sshWords} cat`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const times: number[] = [];
    let sentAt = 0;
    let received = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const send = () => {
      sentAt = performance.now();
      child.stdin.write('ping\n');
    };
    child.stdout.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      while (received.includes('\n')) {
        received = received.slice(received.indexOf('\n') + 1);
        const elapsed = performance.now() - sentAt;
        if (sentAt > 0 && times.length < count + 1) times.push(elapsed);
        if (times.length < count + 1) send();
        else child.stdin.end();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (times.length < count + 1) reject(new Error(`echo over ssh failed (${code}): ${stderr.trim().slice(-300)}`));
      else resolve(times.slice(1));
    });
    send();
  });
}

/** Seconds of `ssh … true` (connection, key exchange, authentication, one command), `runs` times. */
async function connectSeconds(sshWords: string, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await runShell(`${sshWords} true`, { timeoutMs: 60_000 });
    times.push((performance.now() - started) / 1000);
  }
  return times;
}

interface RoundTrip {
  echoMs: number;
  connectSeconds: number;
}

async function roundTrip(bench: Bench, lab: WanLab | undefined): Promise<RoundTrip> {
  return {
    echoMs: median(await echoRoundTripsMs(ssh(bench, lab, 'a'), echoRoundTrips)),
    connectSeconds: median(await connectSeconds(ssh(bench, lab, 'a'), connectRuns)),
  };
}

function missing(command: string): boolean {
  return !process.env.PATH?.split(':').some((dir) => existsSync(path.join(dir, command)));
}

async function setUp(bench: Bench): Promise<WanLab> {
  const { proxies, port } = await startProxies(bench);
  const lab: WanLab = { proxies, port, knownHosts: '' };
  try {
    await prepare(bench, lab);
  } catch (error) {
    await tearDown(lab);
    throw error;
  }
  return lab;
}

/** known_hosts for the proxies, and the worker that uses them. */
async function prepare(bench: Bench, lab: WanLab): Promise<void> {
  const port = lab.port;
  const labKnownHosts = readFileSync(bench.lab.file.knownHostsFile, 'utf8');
  const lines = (['a', 'b'] as const).flatMap((name) => {
    const host = bench.lab.host(name);
    return knownHostsFor(labKnownHosts, host.address, host.port, port);
  });
  lab.knownHosts = path.join(await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-bench-wan-')), 'known_hosts');
  await writeFile(lab.knownHosts, `${lines.join('\n')}\n`, { mode: 0o644 });
  if ((await bench.hostToHostTrust()).ok) {
    // Read by host a's user: in this run's directory on a, which stop() removes too.
    const b = bench.lab.host('b');
    lab.hostAKnownHosts = path.join(await bench.scratchDir('a', 'wan'), 'known_hosts');
    await writeFile(lab.hostAKnownHosts, `${knownHostsFor(labKnownHosts, b.address, b.port, port).join('\n')}\n`, {
      mode: 0o644,
    });
  }
  if (!existsSync(path.join(root, 'dist/worker.js'))) lab.workerSkip = 'skipped: no dist/ (npm run build)';
  else lab.worker = await startWorker(bench, lab);
}

async function tearDown(lab: WanLab): Promise<void> {
  await stopWorker(lab.worker).catch(() => undefined);
  await Promise.all(Object.values(lab.proxies).map((proxy) => proxy.stop().catch(() => undefined)));
  if (lab.knownHosts) await rm(path.dirname(lab.knownHosts), { recursive: true, force: true });
  if (lab.hostAKnownHosts) await rm(lab.hostAKnownHosts, { force: true });
}

function info(variant: string, note: string): Row {
  return { scenario: 'wan', variant, kind: 'info', note, samples: [] };
}

/** The copies of one RTT level: kvm-clone and the baselines through the proxies (and, at 0 ms, without them). */
async function measureLevel(bench: Bench, lab: WanLab, vm: BenchVm, rtt: number, trust: boolean): Promise<Row[]> {
  const label = (name: string) => `${rtt} ms RTT · ${name}`;
  const tag = `${rtt}ms`;
  const variants: Variant[] = [
    {
      name: label('kvm-clone relay, verify off'),
      kind: 'kvm-clone',
      ...(lab.workerSkip ? { skip: lab.workerSkip } : {}),
      measure: withProxyCpu(() => cloneThroughProxies(bench, lab, vm), true),
    },
    {
      name: label('ssh dd relay (single OpenSSH streams)'),
      kind: 'baseline',
      measure: withProxyCpu(() => copyWith(bench, 'ssh dd relay', vm, lab, tag), true),
    },
    {
      name: label('scp -3'),
      kind: 'baseline',
      measure: withProxyCpu(() => copyWith(bench, 'scp -3', vm, lab, tag), true),
    },
    {
      name: label('rsync host-to-host (a pushes to b)'),
      kind: 'baseline',
      ...(trust ? {} : { skip: 'skipped: no host-to-host trust' }),
      measure: withProxyCpu(() => copyWith(bench, 'rsync host-to-host', vm, lab, tag), true),
    },
  ];
  if (rtt === 0)
    variants.push(
      {
        name: 'no proxy · kvm-clone relay, verify off',
        kind: 'baseline',
        measure: withProxyCpu(() => bench.clone(vm, { verify: false }), false),
      },
      {
        name: 'no proxy · ssh dd relay',
        kind: 'baseline',
        measure: withProxyCpu(() => copyWith(bench, 'ssh dd relay', vm, undefined, 'direct'), false),
      },
    );
  for (const proxy of Object.values(lab.proxies)) proxy.setDelay(rtt / 2);
  const rows = await measureAll(bench, 'wan', variants);
  for (const row of rows.values()) {
    const cpus = row.samples
      .map((sample) => /proxy CPU ([\d.]+) s/.exec(sample.note ?? '')?.[1])
      .filter((value): value is string => value !== undefined)
      .map(Number);
    const notes = [`disk ${formatSize(vm.apparentBytes)} (${formatSize(vm.dataBytes)} data)`];
    if (cpus.length > 0) notes.push(`proxy CPU ${median(cpus).toFixed(2)} s`);
    if (row.note) notes.unshift(row.note);
    row.note = notes.join('; ');
  }
  const tool = rows.get(label('kvm-clone relay, verify off'))!;
  const single = rows.get(label('ssh dd relay (single OpenSSH streams)'));
  const rsync = rows.get(label('rsync host-to-host (a pushes to b)'));
  const scp = rows.get(label('scp -3'));
  const versusRsync: Row = { ...tool, variant: `${tool.variant} (vs rsync)`, samples: tool.samples };
  const versusScp: Row = { ...tool, variant: `${tool.variant} (vs scp -3)`, samples: tool.samples };
  const targets = rtt > 0;
  judge(tool, single, targets ? { min: 2, text: '≥ 2× single OpenSSH stream' } : undefined);
  judge(versusRsync, rsync, targets ? { min: 2, text: '≥ 2× single OpenSSH stream' } : undefined);
  judge(versusScp, scp, targets ? { min: 1, text: '≥ 1× scp -3' } : undefined);
  const out = [tool, versusRsync, versusScp, ...[...rows.values()].filter((row) => row !== tool)];
  if (rtt === 0) {
    // The proxy's own cost: the same copy through it at 0 ms against the direct path.
    const overheadTool: Row = { ...tool, variant: `${tool.variant} (vs no proxy)`, samples: tool.samples };
    judge(overheadTool, rows.get('no proxy · kvm-clone relay, verify off'));
    if (single) {
      const overheadSsh: Row = { ...single, variant: `${single.variant} (vs no proxy)`, samples: single.samples };
      judge(overheadSsh, rows.get('no proxy · ssh dd relay'));
      out.push(overheadTool, overheadSsh);
    }
  }
  return out;
}

export const wan: Scenario = {
  id: 'wan',
  title: `WAN: relay clone vs single OpenSSH streams and scp -3 at ${wanRtts.join(', ')} ms RTT (delay proxy)`,
  // Minutes at default sizes: a single stream at 50 ms moves about 40 MB/s.
  quick: false,
  async run(bench) {
    const absent = ['ssh', 'scp', 'rsync'].filter(missing);
    if (absent.length > 0) return [info('(skipped)', `skipped: ${absent.join(', ')} missing on this machine`)];
    const vm = await bench.vm('dense');
    const trust = (await bench.hostToHostTrust()).ok;
    let lab: WanLab | undefined;
    const cleanup = bench.atStop(async () => {
      if (lab) await tearDown(lab);
    });
    const rows: Row[] = [];
    try {
      lab = await setUp(bench);
      const direct = await roundTrip(bench, undefined);
      for (const rtt of wanRtts) {
        for (const proxy of Object.values(lab.proxies)) proxy.setDelay(rtt / 2);
        const through = await roundTrip(bench, lab);
        rows.push(
          info(
            `${rtt} ms RTT · round-trip check`,
            `echo over one ssh session: ${through.echoMs.toFixed(1)} ms through the proxy vs ${direct.echoMs.toFixed(1)} ms direct → ` +
              `+${(through.echoMs - direct.echoMs).toFixed(1)} ms added per round trip (median of ${echoRoundTrips}); ` +
              `ssh … true: ${through.connectSeconds.toFixed(3)} s vs ${direct.connectSeconds.toFixed(3)} s direct (median of ${connectRuns})`,
          ),
        );
        bench.log(`  wan · ${rows.at(-1)!.variant}: ${rows.at(-1)!.note}`);
        try {
          rows.push(...(await measureLevel(bench, lab, vm, rtt, trust && Boolean(lab.hostAKnownHosts))));
        } catch (error) {
          bench.log(`  wan · ${rtt} ms failed: ${(error as Error).stack ?? String(error)}`);
          rows.push({
            scenario: 'wan',
            variant: 'ERROR',
            kind: 'info',
            note: `${rtt} ms RTT failed: ${(error as Error).message.slice(0, 300)}`,
            samples: [],
          });
        }
      }
      const stats = Object.entries(lab.proxies).map(
        ([name, proxy]) =>
          `${name}: ${proxy.stats.connections} connections, peak queue ${(proxy.stats.peakQueuedBytes / 1e6).toFixed(1)} MB, ${proxy.stats.pauses} pauses`,
      );
      rows.push(
        info(
          'proxies',
          `${stats.join('; ')}; queue bound ${maxQueuedBytes / 1024 / 1024} MiB per direction; no rate cap`,
        ),
      );
    } finally {
      await cleanup();
    }
    return rows;
  },
};
