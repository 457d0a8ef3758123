/**
 * syncVM through the real workflow, after 1% of a dense disk's blocks changed and with
 * nothing changed, against rsync --inplace --no-whole-file host to host and a full re-copy
 * (syncVM with deltaOnly: false), all updating the same target on host b.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { open, rm, statfs, stat } from 'node:fs/promises';
import { tsToMs } from '@temporalio/common/lib/time';
import type { SyncInput } from '../../src/domain/schemas/sync-input';
import type { SyncResult } from '../../src/domain/sync-result';
import { SYNC_BLOCK_SIZE } from '../../src/domain/block-delta';
import { settle, type Bench, type BenchVm, type Sample } from '../lib/context';
import { processCpuSeconds, processIo } from '../lib/proc';
import { judge, measureAll, type Row, type Scenario, type Variant } from '../lib/scenario';
import { q } from '../lib/shell';
import { GiB, MB, formatSize, median } from '../lib/stats';

/** Share of the data disk's 64 KiB blocks rewritten before each "changed" run. */
const changedShare = 0.01;
/** The longest line python's block hasher prints for a block ("%08x\n"): what each host sends per block. */
const digestBytesPerBlock = 9;

export interface SyncSample extends Sample {
  /** Bytes of the data disk rewritten on the source before this run (0: unchanged). */
  changedBytes: number;
  /** Per-block digests both hosts send to compare the disk: an upper bound, 9 B per 64 KiB block per host. */
  digestBytes?: number;
  /** What the worker read from / wrote to its sockets and files (/proc/<pid>/io rchar / wchar). */
  workerReadBytes?: number;
  workerWriteBytes?: number;
  /** rsync --stats. */
  rsync?: { sent: number; received: number; literal: number; matched: number };
  sync?: {
    bytesTransferred: number;
    blocksSynchronized: number;
    bytesCompared: number;
    rangesRecopied: number;
    hashTool: string;
    changeTracking: string;
    verifyFileSeconds?: number;
  };
}

/**
 * Rewrites `share` of the file's 64 KiB blocks with random data: distinct blocks picked at
 * random over the whole file, except the first (make-vm's marker). Returns the bytes rewritten.
 */
async function scribble(file: string, share: number): Promise<number> {
  const size = (await stat(file)).size;
  const blocks = Math.floor(size / SYNC_BLOCK_SIZE);
  const count = Math.max(1, Math.round(blocks * share));
  const picked = new Set<number>();
  while (picked.size < count) picked.add(randomInt(1, blocks));
  const handle = await open(file, 'r+');
  try {
    for (const block of [...picked].sort((x, y) => x - y))
      await handle.write(randomBytes(SYNC_BLOCK_SIZE), 0, SYNC_BLOCK_SIZE, block * SYNC_BLOCK_SIZE);
    // On disk before the clock starts, so the source's writeback does not land in a timed run.
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return count * SYNC_BLOCK_SIZE;
}

/** Wall span of the activities of one type in a workflow's history, in seconds. */
function activitySpan(
  events: {
    eventTime?: unknown;
    eventId?: unknown;
    activityTaskScheduledEventAttributes?: unknown;
    activityTaskCompletedEventAttributes?: unknown;
  }[],
  type: string,
): number | undefined {
  const scheduled = new Map<string, number>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const event of events as {
    eventId?: { toString(): string } | null;
    eventTime?: Parameters<typeof tsToMs>[0];
    activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
    activityTaskCompletedEventAttributes?: { scheduledEventId?: { toString(): string } | null } | null;
  }[]) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === type) {
      const at = tsToMs(event.eventTime);
      scheduled.set(String(event.eventId), at);
      first = Math.min(first, at);
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed && scheduled.has(String(completed.scheduledEventId))) last = Math.max(last, tsToMs(event.eventTime));
  }
  return Number.isFinite(first) && Number.isFinite(last) ? (last - first) / 1000 : undefined;
}

export interface SyncSetup {
  vm: BenchVm;
  /** The target's files on b, by the source file they copy (a VM without a data disk has none). */
  targetPaths: { root: string; data?: string };
  digestBytes: number;
}

/** One syncVM into the target through the bench's worker, measured like Bench.clone. */
export async function measureSync(
  bench: Bench,
  setup: SyncSetup,
  changedBytes: number,
  input: Partial<SyncInput> = {},
): Promise<SyncSample> {
  const { vm } = setup;
  await bench.resetWorkerMemory();
  const pid = bench.workerPid;
  const cpu0 = processCpuSeconds(pid);
  const io0 = processIo(pid);
  const stopHostCpu = await bench.hostCpuWindow();
  const started = performance.now();
  const handle = await bench.client.startSync({ source: 'a', destination: 'b', vmName: vm.name, ...input });
  const result = await bench.client.result<SyncResult>(handle.workflowId);
  const seconds = (performance.now() - started) / 1000;
  const io1 = processIo(pid);
  const cpu1 = processCpuSeconds(pid);
  const hostCpu = await stopHostCpu();
  const history = await bench.client.temporal.workflow.getHandle(handle.workflowId).fetchHistory();
  const events = history.events ?? [];
  const retries = events.filter(
    (event) => event.activityTaskFailedEventAttributes || event.activityTaskTimedOutEventAttributes,
  ).length;
  const peak = await bench.workerPeak();
  await settle(setup.targetPaths.root);
  const delta = result.changeTracking === 'block-hash';
  return {
    seconds,
    logicalBytes: vm.apparentBytes,
    wireBytes: result.bytesTransferred,
    clientCpu: cpu1 - cpu0,
    hostCpu,
    peakRssBytes: peak.rssBytes,
    peakHeapBytes: peak.heapUsedBytes,
    startRssBytes: peak.startRssBytes,
    retries,
    ...(retries > 0 ? { note: `${retries} activity retr${retries === 1 ? 'y' : 'ies'}` } : {}),
    changedBytes,
    ...(delta ? { digestBytes: setup.digestBytes } : {}),
    workerReadBytes: io1.readBytes - io0.readBytes,
    workerWriteBytes: io1.writeBytes - io0.writeBytes,
    sync: {
      bytesTransferred: result.bytesTransferred,
      blocksSynchronized: result.blocksSynchronized,
      bytesCompared: result.bytesCompared,
      rangesRecopied: result.rangesRecopied,
      hashTool: result.hashTool,
      changeTracking: result.changeTracking,
      verifyFileSeconds: activitySpan(events, 'verifyFile'),
    },
  };
}

const statsNumber = (stdout: string, label: string): number => {
  const total = [...stdout.matchAll(new RegExp(`^${label}: ([\\d,]+)`, 'gm'))].reduce(
    (sum, match) => sum + Number(match[1]!.replace(/,/g, '')),
    0,
  );
  return total;
};

/** rsync --inplace --no-whole-file from host a to host b into `setup.targetPaths`, as host a's user. */
export async function measureRsync(bench: Bench, setup: SyncSetup, changedBytes: number): Promise<SyncSample> {
  const b = bench.lab.host('b');
  const rsh = `ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -c aes128-gcm@openssh.com -p ${b.port}`;
  const pairs: [string, string][] = [[setup.vm.rootPath, setup.targetPaths.root]];
  if (setup.targetPaths.data) pairs.push([setup.vm.dataPath, setup.targetPaths.data]);
  // --ignore-times: compare every block, as syncVM does. rsync's man page says a missing
  // --times implies it, but rsync 3.5.0 skipped a changed file of the same size and mtime second.
  const remote = pairs
    .map(
      ([from, to]) =>
        `rsync --inplace --no-whole-file --ignore-times --stats -e ${q(rsh)} ${q(from)} ${q(`${b.user}@${b.address}:${to}`)}`,
    )
    .join(' && ');
  let stats: SyncSample['rsync'];
  const sample = await bench.baseline(`${bench.sshCommand('a')} ${q(remote)}`, setup.vm.apparentBytes, (stdout) => {
    stats = {
      sent: statsNumber(stdout, 'Total bytes sent'),
      received: statsNumber(stdout, 'Total bytes received'),
      literal: statsNumber(stdout, 'Literal data'),
      matched: statsNumber(stdout, 'Matched data'),
    };
    return stats.sent;
  });
  await settle(setup.targetPaths.root);
  if (changedBytes > 0 && !stats?.literal)
    throw new Error(`rsync sent no literal data after ${changedBytes} bytes changed: it skipped the file`);
  return { ...sample, changedBytes, ...(stats ? { rsync: stats } : {}) };
}

/**
 * The source VM (a dense random data disk) and its target on b: a clone under the same
 * name, shut off, as a standby starts. One untimed sync first, so every run starts from an
 * identical copy and the workflow's code paths are warm.
 */
async function prepare(bench: Bench): Promise<SyncSetup> {
  const vm = await bench.vm('sync');
  const targetDir = await bench.scratchDir('b', `${vm.name}-target`);
  const free = await statfs(targetDir);
  const needed = vm.apparentBytes + 1 * GiB;
  if (free.bavail * free.bsize < needed)
    throw new Error(
      `not enough free space for the sync target: ${formatSize(free.bavail * free.bsize)} free, ${formatSize(needed)} needed`,
    );
  bench.atStop(async () => {
    await bench.lab.virsh('b', 'undefine', '--nvram', '--domain', vm.name).catch(() => undefined);
    await rm(targetDir, { recursive: true, force: true });
  });
  bench.log(`cloning ${vm.name} to b under the same name (the sync target)…`);
  const clone = await bench.client.clone({
    source: 'a',
    destination: 'b',
    vmName: vm.name,
    newName: vm.name,
    destDir: targetDir,
    verify: false,
  });
  const byPath = new Map(clone.files.map((file) => [file.sourcePath, file.destinationPath]));
  const targetPaths = { root: byPath.get(vm.rootPath)!, data: byPath.get(vm.dataPath)! };
  if (!targetPaths.root || !targetPaths.data)
    throw new Error(
      `the clone did not report the target's files: ${JSON.stringify(clone.files.map((file) => file.sourcePath))}`,
    );
  let blocks = 0;
  for (const file of [vm.rootPath, vm.dataPath]) blocks += Math.ceil((await stat(file)).size / SYNC_BLOCK_SIZE);
  const setup: SyncSetup = { vm, targetPaths, digestBytes: 2 * digestBytesPerBlock * blocks };
  bench.log('one untimed sync of the unchanged VM…');
  await bench.client.sync({ source: 'a', destination: 'b', vmName: vm.name });
  await settle(targetPaths.data);
  return setup;
}

export const mb = (bytes: number | undefined, digits = 1) => (bytes === undefined ? '?' : (bytes / MB).toFixed(digits));

export function medianOf(samples: Sample[], pick: (sample: SyncSample) => number | undefined): number | undefined {
  const values = (samples as SyncSample[])
    .map(pick)
    .filter((value): value is number => value !== undefined && Number.isFinite(value));
  return values.length === 0 ? undefined : median(values);
}

export const sync: Scenario = {
  id: 'sync',
  title: 'syncVM after changing 1% of the blocks, and of an unchanged disk',
  quick: true,
  async run(bench) {
    const setup = await prepare(bench);
    const { vm } = setup;
    const trust = await bench.hostToHostTrust();
    const noTrust = trust.ok ? {} : { skip: trust.reason! };
    const changed = () => scribble(vm.dataPath, changedShare);
    const names = {
      changed: 'kvm-clone sync, 1% changed (defaults: verify on)',
      rsyncChanged: 'rsync --inplace --no-whole-file host-to-host, 1% changed',
      full: 'full re-copy: kvm-clone sync, deltaOnly false, 1% changed',
      unchanged: 'kvm-clone sync, unchanged (defaults: verify on)',
      rsyncUnchanged: 'rsync --inplace --no-whole-file host-to-host, unchanged',
    };
    // Every variant brings the same target up to date: the changed ones rewrite 1% of the
    // source's blocks first (untimed), the unchanged ones find the target as the last run left it.
    const variants: Variant[] = [
      { name: names.changed, kind: 'kvm-clone', measure: async () => measureSync(bench, setup, await changed()) },
      {
        name: names.rsyncChanged,
        kind: 'baseline',
        ...noTrust,
        measure: async () => measureRsync(bench, setup, await changed()),
      },
      {
        name: names.full,
        kind: 'baseline',
        measure: async () => measureSync(bench, setup, await changed(), { deltaOnly: false }),
      },
      { name: names.unchanged, kind: 'kvm-clone', measure: () => measureSync(bench, setup, 0) },
      { name: names.rsyncUnchanged, kind: 'baseline', ...noTrust, measure: () => measureRsync(bench, setup, 0) },
    ];
    const rows = await measureAll(bench, this.id, variants);
    const row = (name: string) => rows.get(name)!;
    const target = 'time ≤ 0.5× rsync (≥ 2× its speed)';
    judge(row(names.changed), row(names.rsyncChanged), { min: 2, text: target });
    judge(row(names.unchanged), row(names.rsyncUnchanged), { min: 2, text: target });

    const disk = `disk ${formatSize(vm.apparentBytes)} dense (root qcow2 + ${formatSize(vm.apparentBytes - (await stat(vm.rootPath)).size)} raw data disk); MB/s of the apparent size compared`;
    const tool = row(names.changed);
    const full = row(names.full);
    const changedBytes = medianOf(tool.samples, (s) => s.changedBytes)!;
    // The wire target: data sent plus the per-block digests both hosts sent, against the changed bytes plus the same digests.
    const wire: Row = {
      ...tool,
      variant: '(same row) bytes on the wire',
      samples: tool.samples,
      ratioTo: 'changed bytes + digests',
      ratioKind: 'bytes',
      target: 'wire ≤ 1.1× changed + digests',
    };
    delete wire.met;
    delete wire.ratio;
    const wireRatio = medianOf(tool.samples, (s) =>
      s.digestBytes === undefined ? undefined : (s.wireBytes! + s.digestBytes) / (s.changedBytes + s.digestBytes),
    );
    if (wireRatio !== undefined) {
      wire.ratio = wireRatio;
      wire.met = wireRatio <= 1.1;
    }
    wire.note = [
      `data sent ${mb(tool.wireBytes)} MB = ${((tool.wireBytes ?? 0) / changedBytes).toFixed(3)}× the ${mb(changedBytes)} MB rewritten (${formatSize(changedBytes)}, ${changedBytes / SYNC_BLOCK_SIZE} blocks of 64 KiB)`,
      `block digests ≤ ${mb(setup.digestBytes, 2)} MB (9 B per 64 KiB block, both hosts)`,
      `worker socket+file reads ${mb(medianOf(tool.samples, (s) => s.workerReadBytes))} MB, writes ${mb(medianOf(tool.samples, (s) => s.workerWriteBytes))} MB (relay: the data passes the worker in and out)`,
    ].join('; ');
    const rsyncNote = (rsyncRow: Row) =>
      rsyncRow.samples.length === 0
        ? undefined
        : `wire = Total bytes sent (a→b): literal data ${mb(medianOf(rsyncRow.samples, (s) => s.rsync?.literal))} MB; Total bytes received (b→a, its block checksums) ${mb(
            medianOf(rsyncRow.samples, (s) => s.rsync?.received),
            2,
          )} MB`;
    const verifyNote = (syncRow: Row) => {
      const seconds = medianOf(syncRow.samples, (s) => s.sync?.verifyFileSeconds);
      const recopied = syncRow.samples.reduce((sum, s) => sum + ((s as SyncSample).sync?.rangesRecopied ?? 0), 0);
      return `${seconds === undefined ? '' : `whole-file verification (verifyFile) ${seconds.toFixed(1)} s of it; `}blocks synchronized ${medianOf(syncRow.samples, (s) => s.sync?.blocksSynchronized)}${recopied ? `; ${recopied} range(s) recopied` : ''}`;
    };
    const versusFull = (syncRow: Row) =>
      full.seconds && syncRow.seconds
        ? `${(full.seconds / syncRow.seconds).toFixed(1)}× faster than the full re-copy; `
        : '';
    tool.note = [tool.note, `${versusFull(tool)}${verifyNote(tool)}; ${disk}`].filter(Boolean).join('; ');
    row(names.unchanged).note = [
      row(names.unchanged).note,
      `${versusFull(row(names.unchanged))}${verifyNote(row(names.unchanged))}; data sent ${mb(row(names.unchanged).wireBytes, 3)} MB`,
    ]
      .filter(Boolean)
      .join('; ');
    for (const name of [names.rsyncChanged, names.rsyncUnchanged]) row(name).note ??= rsyncNote(row(name));
    full.note ??= `punches and re-sends every data block, verify on; ${verifyNote(full)}`;
    return [tool, wire, row(names.rsyncChanged), full, row(names.unchanged), row(names.rsyncUnchanged)];
  },
};
