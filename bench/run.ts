/**
 * kvm-clone's benchmark harness: `npm run bench [-- --quick|--full] [--runs N] [--only ids] [--skip ids]`.
 *
 * Sets up the lab (scripts/lab/up) and its own in-memory Temporal dev server, runs each
 * scenario's tool and baselines alternately on the same lab hosts, prints a Markdown
 * table of medians and ratios, and writes bench/results/<timestamp>.json and latest.json.
 * Ratios within one run are the result; absolute numbers depend on the machine and on
 * whoever else uses it. See bench/README.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Bench, root, type Sizes } from './lib/context';
import type { Row, Scenario } from './lib/scenario';
import { GiB, MB, MiB, parseSize } from './lib/stats';
import { compression, nativeBinding, sparseVersusNaive } from './scenarios/relay';
import { denseClone, parallelism, sparseClone } from './scenarios/full-clone';
import { digest } from './scenarios/digest';
import { memory, overhead, resume } from './scenarios/worker';
import { sync } from './scenarios/sync';
import { syncCheckpoint } from './scenarios/sync-checkpoint';
import { load as loadScenario } from './scenarios/load';
import { block } from './scenarios/block';
import { wan } from './scenarios/wan';
import { migrate } from './scenarios/migrate';

const load = createRequire(__filename);

export const scenarios: Scenario[] = [
  denseClone,
  sparseClone,
  parallelism,
  compression,
  sparseVersusNaive,
  digest,
  nativeBinding,
  memory,
  overhead,
  resume,
  sync,
  syncCheckpoint,
  block,
  loadScenario,
  wan,
  migrate,
];

/** Why a scenario is left out of --quick, where the default reason does not fit. */
const notInQuick: Record<string, string> = {
  wan: 'single OpenSSH streams at 50 ms RTT take minutes at any useful size',
  migrate: 'it boots a VM and copies it twice per run; its target is a downtime at the default size',
};

export const presets: Record<'quick' | 'default' | 'full', Sizes> = {
  quick: {
    dense: 32 * MiB,
    sparse: { size: 256 * MiB, data: 32 * MiB },
    memoryLarge: { size: 256 * MiB, data: 64 * MiB },
    small: 16 * MiB,
    relay: 32 * MiB,
    hash: 32 * MiB,
    resume: { data: 128 * MiB, bandwidth: '50M' },
    sync: 32 * MiB,
    runs: 1,
  },
  default: {
    dense: 1 * GiB,
    sparse: { size: 1 * GiB, data: 128 * MiB },
    memoryLarge: { size: 4 * GiB, data: 512 * MiB },
    small: 64 * MiB,
    relay: 256 * MiB,
    hash: 512 * MiB,
    resume: { data: 512 * MiB, bandwidth: '200M' },
    sync: 4 * GiB,
    runs: 3,
  },
  full: {
    dense: 2 * GiB,
    sparse: { size: 8 * GiB, data: 1 * GiB },
    memoryLarge: { size: 20 * GiB, data: 2 * GiB },
    small: 64 * MiB,
    relay: 1 * GiB,
    hash: 2 * GiB,
    resume: { data: 2 * GiB, bandwidth: '400M' },
    sync: 4 * GiB,
    runs: 5,
  },
};

interface Options {
  mode: keyof typeof presets;
  sizes: Sizes;
  only?: string[];
  skip: string[];
  outDir: string;
}

const usage = `usage: npm run bench -- [--quick | --full] [--runs N] [--only ID,…] [--skip ID,…] [--out DIR]
       [--dense SIZE] [--sparse SIZE:DATA] [--memory-large SIZE:DATA] [--relay SIZE] [--hash SIZE] [--sync SIZE]
scenarios: ${scenarios.map((s) => s.id).join(', ')}`;

function parseArgs(argv: string[]): Options {
  let mode: Options['mode'] = 'default';
  const overrides: ((sizes: Sizes) => void)[] = [];
  const options: Omit<Options, 'mode' | 'sizes'> = { skip: [], outDir: path.join(root, 'bench/results') };
  const pair = (text: string) => {
    const [size, data] = text.split(':');
    return { size: parseSize(size!), data: parseSize(data ?? size!) };
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value\n${usage}`);
      return next;
    };
    switch (arg) {
      case '--quick':
        mode = 'quick';
        break;
      case '--full':
        mode = 'full';
        break;
      case '--runs': {
        const runs = Number(value());
        overrides.push((s) => (s.runs = runs));
        break;
      }
      case '--only':
        options.only = value().split(',');
        break;
      case '--skip':
        options.skip = value().split(',');
        break;
      case '--out':
        options.outDir = path.resolve(value());
        break;
      case '--dense': {
        const v = parseSize(value());
        overrides.push((s) => (s.dense = v));
        break;
      }
      case '--sparse': {
        const v = pair(value());
        overrides.push((s) => (s.sparse = v));
        break;
      }
      case '--memory-large': {
        const v = pair(value());
        overrides.push((s) => (s.memoryLarge = v));
        break;
      }
      case '--relay': {
        const v = parseSize(value());
        overrides.push((s) => (s.relay = v));
        break;
      }
      case '--hash': {
        const v = parseSize(value());
        overrides.push((s) => (s.hash = v));
        break;
      }
      case '--sync': {
        const v = parseSize(value());
        overrides.push((s) => (s.sync = v));
        break;
      }
      case '-h':
      case '--help':
        process.stdout.write(`${usage}\n`);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown option ${arg}\n${usage}`);
    }
  }
  const sizes: Sizes = structuredClone(presets[mode]);
  for (const override of overrides) override(sizes);
  for (const id of [...(options.only ?? []), ...options.skip]) {
    if (!scenarios.some((s) => s.id === id)) throw new Error(`unknown scenario ${id}\n${usage}`);
  }
  return { mode, sizes, ...options };
}

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]!
      .trim();
  } catch {
    return 'unknown';
  }
}

function machine(bench: Bench | undefined): Record<string, unknown> {
  const cpus = os.cpus();
  // ssh -V prints on stderr.
  const sshV = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  const ssh = `${sshV.stderr ?? ''}${sshV.stdout ?? ''}`;
  const ssh2Version = (load('ssh2/package.json') as { version: string }).version;
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuFlags: ['aes', 'sha_ni', 'avx2'].filter((flag) =>
      new RegExp(`\\b${flag}\\b`).test(readFileSync('/proc/cpuinfo', 'utf8')),
    ),
    memoryGiB: Math.round((os.totalmem() / GiB) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    ssh2: ssh2Version,
    ssh2NativeBinding: Boolean(
      (load('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean }).bindingAvailable,
    ),
    workerNativeBinding: bench?.workerBindingLoaded,
    openssh: ssh.trim().split('\n')[0] ?? 'unknown',
    rsync: version('rsync', ['--version']),
    loadAverageAtStart: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

const fmt = (value: number | undefined, digits = 1) =>
  value === undefined || !Number.isFinite(value) ? '' : value.toFixed(digits);

function ratioText(row: Row): string {
  if (row.ratio === undefined) return '';
  switch (row.ratioKind) {
    case 'seconds':
      return `${row.ratio.toFixed(2)} s overhead`;
    case 'bytes':
      return `${row.ratio.toFixed(3)}× ${row.ratioTo}`;
    case 'memory':
      return `${row.ratio.toFixed(2)}× ${row.ratioTo}`;
    default:
      return `${row.ratio.toFixed(2)}× ${row.ratioTo}`;
  }
}

export function table(rows: Row[]): string {
  const header = [
    'scenario',
    'variant',
    'median s',
    'MB/s',
    'wire MB',
    'client CPU s',
    'host CPU s',
    'peak RSS MB',
    'retries',
    'ratio',
    'target',
    'result',
    'note',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const result =
      row.met === undefined
        ? row.target
          ? row.seconds === undefined
            ? 'n/a'
            : 'no ratio'
          : ''
        : row.met
          ? 'met'
          : '**MISSED**';
    const cells = [
      row.scenario,
      row.variant,
      fmt(row.seconds, 2),
      fmt(row.mbPerSecond, 0),
      row.wireBytes === undefined ? '' : fmt(row.wireBytes / MB, 0),
      fmt(row.clientCpu, 2),
      fmt(row.hostCpu, 2),
      row.peakRssBytes === undefined ? '' : fmt(row.peakRssBytes / MB, 0),
      row.retries === undefined ? '' : String(row.retries),
      ratioText(row),
      row.target ?? '',
      result,
      row.note ?? '',
    ];
    lines.push(`| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Samples without the full clone results, which are long. */
function compact(row: Row): unknown {
  return {
    ...row,
    samples: row.samples.map((sample) => {
      const { result, ...rest } = sample as typeof sample & {
        result?: { bytesTransferred: number; bytesResumed: number; compression: string };
      };
      return result ? { ...rest, bytesTransferred: result.bytesTransferred, bytesResumed: result.bytesResumed } : rest;
    }),
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const chosen = scenarios.filter(
    (s) =>
      (options.only ? options.only.includes(s.id) : options.mode !== 'quick' || s.quick) &&
      !options.skip.includes(s.id),
  );
  const skippedInQuick =
    options.mode === 'quick' && !options.only ? scenarios.filter((s) => !s.quick).map((s) => s.id) : [];
  const startedAt = new Date();
  const bench = await Bench.start(options.sizes, log);
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log('interrupted: cleaning up…');
    void bench.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: Row[] = [];
  const trust = await bench.hostToHostTrust();
  const machineInfo = machine(bench);
  try {
    for (const scenario of chosen) {
      if (interrupted) break;
      log(`\n## ${scenario.id}: ${scenario.title}`);
      const started = performance.now();
      try {
        rows.push(...(await scenario.run(bench)));
      } catch (error) {
        log(`  ${scenario.id} failed: ${(error as Error).stack ?? String(error)}`);
        rows.push({
          scenario: scenario.id,
          variant: 'ERROR',
          kind: 'info',
          note: `failed: ${(error as Error).message.slice(0, 300)}`,
          samples: [],
        });
      }
      log(`  (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    for (const id of skippedInQuick) {
      rows.push({
        scenario: id,
        variant: '(skipped)',
        kind: 'info',
        note: `not in --quick: ${notInQuick[id] ?? 'it waits out the 30 s heartbeat timeout'}`,
        samples: [],
      });
    }
  } finally {
    await bench.stop();
  }
  const finishedAt = new Date();
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
    mode: options.mode,
    sizes: options.sizes,
    machine: machineInfo,
    hostToHostTrust: trust,
    notes: [
      'MB = 10^6 bytes. MB/s = apparent bytes of the copied files / wall time (median of runs).',
      'Speed ratio = MB/s of the row / MB/s of its baseline in the same run; > 1 is faster.',
      'OpenSSH baselines use aes128-gcm@openssh.com, the fastest cipher on this kind of machine.',
      'host CPU = CPU of both lab sshd process trees during the run, including any other user of the lab.',
      'kvm-clone wire bytes = bytes the worker wrote to its sockets (/proc/<pid>/io wchar); for sync rows, SyncResult.bytesTransferred (data sent to the destination), and rsync its --stats "Total bytes sent".',
      'retries = activity attempts that failed or timed out, summed over the runs; each costs a retry backoff (≥ 2 s for transfers).',
    ],
    rows: rows.map(compact),
  };
  await mkdir(options.outDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = path.join(options.outDir, `${stamp}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(options.outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  const m = machineInfo;
  process.stdout.write(
    `\n# kvm-clone benchmarks (${options.mode}, ${options.sizes.runs} run(s) each, ${report.durationSeconds} s)\n\n` +
      `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}, ssh2 ${m.ssh2} (native binding ${m.workerNativeBinding ? 'loaded' : 'NOT loaded'}), ${m.openssh}; load at start ${(m.loadAverageAtStart as number[]).join(' ')}\n` +
      `Host-to-host trust: ${trust.ok ? 'yes' : trust.reason}\n\n${table(rows)}\n\n` +
      `${report.notes.map((note) => `- ${note}`).join('\n')}\n\nWritten: ${path.relative(process.cwd(), file)} and latest.json\n`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
