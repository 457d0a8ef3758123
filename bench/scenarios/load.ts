/**
 * Load on the production setup: the Temporal server on PostgreSQL with the shipped config,
 * and two `kvm-clone worker` processes. First 12 clones at once, then 50 clones queued
 * behind a low activity limit, then a burst of client calls; PostgreSQL's connections are
 * counted throughout. Numbers only: nothing here is asserted.
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { CloneResult } from '../../src/domain/clone-result';
import type { LabVm } from '../../test/helpers/lab';
import { root, writeRandomLayout, type Bench, type Sample } from '../lib/context';
import { LoadCluster, loadTaskQueue, type ConnectionCounts, type CliWorker } from '../lib/load-cluster';
import type { Row, Scenario } from '../lib/scenario';
import { MB, formatSize, median } from '../lib/stats';
import { q, runShell } from '../lib/shell';

const CONCURRENT_CLONES = 12;
const QUEUED_CLONES = 50;
/** Sources of the queued clones: each is cloned QUEUED_CLONES / QUEUE_SOURCES times, to other names. */
const QUEUE_SOURCES = 5;
/** Activities each worker runs at once while the 50 clones queue. */
const QUEUE_ACTIVITY_LIMIT = 2;
const WORKERS = 2;
const BURST_CALLS = 300;

interface LoadVm extends LabVm {
  apparentBytes: number;
}

interface Job {
  vm: LoadVm;
  newName: string;
  destDir: string;
}

interface ActivityRun {
  type: string;
  /** Of the attempt that ran last: the history keeps only its start. */
  attempt: number;
  identity: string;
  scheduledAt: number;
  startedAt: number;
  closedAt: number;
}

/** One operation as its history tells it (server times, ms). */
interface Outcome {
  index: number;
  logicalBytes: number;
  startedAt: number;
  closedAt: number;
  firstActivityAt: number;
  verified: boolean;
  error?: string;
  /** Attempts that timed out, retried ones included: "<activity type> <timeout type>". */
  timeouts: string[];
  /** Attempts that failed otherwise, by activity type. */
  failures: string[];
  activities: ActivityRun[];
}

type IFailure = temporal.api.failure.v1.IFailure;

const TIMEOUT_TYPES = ['UNSPECIFIED', 'START_TO_CLOSE', 'SCHEDULE_TO_START', 'SCHEDULE_TO_CLOSE', 'HEARTBEAT'];

/** The timeout type of a failure, or undefined when it is not a timeout. */
function timeoutOf(failure: IFailure | null | undefined): string | undefined {
  const info = failure?.timeoutFailureInfo ?? failure?.cause?.timeoutFailureInfo;
  return info ? (TIMEOUT_TYPES[info.timeoutType ?? 0] ?? 'UNKNOWN') : undefined;
}

/** Linear interpolation between the closest ranks. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * p;
  const low = Math.floor(at);
  return sorted[low]! + (sorted[Math.ceil(at)]! - sorted[low]!) * (at - low);
}

/** Spearman's rank correlation between two orders of the same items (1: the same order). */
function spearman(ranksA: readonly number[], ranksB: readonly number[]): number {
  const n = ranksA.length;
  const sum = ranksA.reduce((total, rank, i) => total + (rank - ranksB[i]!) ** 2, 0);
  return 1 - (6 * sum) / (n * (n * n - 1));
}

/** Each item's rank (0-based) when sorted by `key`. */
function ranks(values: readonly number[]): number[] {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value);
  const result = new Array<number>(values.length);
  order.forEach(({ index }, rank) => (result[index] = rank));
  return result;
}

/** The most activities one worker ran at the same time, by identity. */
function peakConcurrency(runs: readonly ActivityRun[]): Map<string, number> {
  const peaks = new Map<string, number>();
  const byWorker = new Map<string, ActivityRun[]>();
  for (const run of runs) byWorker.set(run.identity, [...(byWorker.get(run.identity) ?? []), run]);
  for (const [identity, own] of byWorker) {
    const edges = own.flatMap((run) => [
      { at: run.startedAt, delta: 1 },
      { at: run.closedAt, delta: -1 },
    ]);
    // An activity that ends when another starts does not overlap it.
    edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let running = 0;
    let peak = 0;
    for (const edge of edges) peak = Math.max(peak, (running += edge.delta));
    peaks.set(identity, peak);
  }
  return peaks;
}

async function makeSources(bench: Bench, label: string, count: number, dataBytes: number): Promise<LoadVm[]> {
  const vms: LoadVm[] = [];
  const tag = Date.now().toString(36);
  // A few at a time: make-vm and the random data compete for the 2 cores with nothing else yet.
  for (let first = 0; first < count; first += 4) {
    const batch = Array.from({ length: Math.min(4, count - first) }, (_, i) => first + i);
    vms.push(
      ...(await Promise.all(
        batch.map(async (i) => {
          const name = `bench-load-${label}-${tag}-${i}`;
          const made = await bench.lab.makeVm('a', name, {
            dir: path.join(bench.homeOf('a'), bench.workDir, name),
            dataSize: '1M',
          });
          bench.atStop(() => bench.lab.removeVm('a', made));
          await writeRandomLayout(made.dataPath, dataBytes, dataBytes, name);
          await runShell(`chown ${q(`${bench.lab.host('a').user}:`)} ${q(made.dataPath)}`);
          const sizes = await Promise.all([made.rootPath, made.dataPath].map((file) => stat(file)));
          return { ...made, apparentBytes: sizes.reduce((sum, s) => sum + s.size, 0) };
        }),
      )),
    );
  }
  return vms;
}

async function jobsFor(bench: Bench, vms: LoadVm[], count: number, suffix: string): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) {
    const vm = vms[i % vms.length]!;
    const newName = `${vm.name}-${suffix}${i}`;
    jobs.push({ vm, newName, destDir: await bench.scratchDir('b', newName) });
  }
  return jobs;
}

/** Removes the clones of `jobs` from host b; also done by bench.stop() if the run is interrupted. */
function cloneRemoval(bench: Bench, jobs: Job[]): () => Promise<void> {
  return bench.atStop(async () => {
    for (const job of jobs) await bench.removeClone(job.newName, job.destDir);
  });
}

function verified(result: CloneResult): boolean {
  return (
    result.success &&
    result.files.length > 0 &&
    result.files.every((file) => file.digest !== undefined && file.digest.source === file.digest.destination)
  );
}

async function outcomeOf(
  index: number,
  job: Job,
  handle: WorkflowHandle,
  settled: PromiseSettledResult<CloneResult>,
): Promise<Outcome> {
  const events = (await handle.fetchHistory()).events ?? [];
  const at = (event: (typeof events)[number]) => tsToMs(event.eventTime!);
  const scheduled = new Map<string, { type: string; at: number }>();
  const started = new Map<string, { identity: string; attempt: number; at: number }>();
  const activities: ActivityRun[] = [];
  const timeouts: string[] = [];
  const failures: string[] = [];
  const typeOf = (scheduledEventId: unknown) => scheduled.get(String(scheduledEventId))?.type ?? '';
  for (const event of events) {
    const schedule = event.activityTaskScheduledEventAttributes;
    if (schedule) scheduled.set(String(event.eventId), { type: schedule.activityType?.name ?? '', at: at(event) });
    const start = event.activityTaskStartedEventAttributes;
    if (start) {
      started.set(String(start.scheduledEventId), {
        identity: start.identity ?? '',
        attempt: start.attempt ?? 1,
        at: at(event),
      });
      // A retried attempt leaves no event of its own: the next attempt's number and lastFailure tell of it.
      const timeout = timeoutOf(start.lastFailure);
      for (let attempt = 1; attempt < (start.attempt ?? 1); attempt++)
        (timeout ? timeouts : failures).push(`${typeOf(start.scheduledEventId)}${timeout ? ` ${timeout}` : ''}`);
    }
    const close =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    const timedOut = event.activityTaskTimedOutEventAttributes;
    if (timedOut) timeouts.push(`${typeOf(timedOut.scheduledEventId)} ${timeoutOf(timedOut.failure)}`);
    if (event.activityTaskFailedEventAttributes)
      failures.push(typeOf(event.activityTaskFailedEventAttributes.scheduledEventId));
    const run = close && started.get(String(close.scheduledEventId));
    const scheduledAs = close && scheduled.get(String(close.scheduledEventId));
    if (run && scheduledAs)
      activities.push({
        type: scheduledAs.type,
        attempt: run.attempt,
        identity: run.identity,
        scheduledAt: scheduledAs.at,
        startedAt: run.at,
        closedAt: at(event),
      });
  }
  return {
    index,
    logicalBytes: job.vm.apparentBytes,
    startedAt: at(events[0]!),
    closedAt: at(events.at(-1)!),
    firstActivityAt: Math.min(...activities.map((run) => run.startedAt)),
    verified: settled.status === 'fulfilled' && verified(settled.value),
    ...(settled.status === 'rejected' ? { error: (settled.reason as Error).message.slice(0, 200) } : {}),
    timeouts,
    failures,
    activities,
  };
}

/** Starts every job (all at once, or one after the other in index order), then waits for all of them. */
async function runJobs(
  cluster: LoadCluster,
  taskQueue: string,
  jobs: Job[],
  starts: 'together' | 'in order',
): Promise<{ outcomes: Outcome[]; seconds: number }> {
  const client = cluster.client(taskQueue);
  const begun = performance.now();
  const start = (job: Job) =>
    client.startClone({
      source: 'a',
      destination: 'b',
      vmName: job.vm.name,
      newName: job.newName,
      destDir: job.destDir,
    });
  const handles: WorkflowHandle[] = [];
  if (starts === 'together') handles.push(...(await Promise.all(jobs.map(start))));
  else for (const job of jobs) handles.push(await start(job));
  const settled = await Promise.allSettled(handles.map((handle) => client.result<CloneResult>(handle.workflowId)));
  const seconds = (performance.now() - begun) / 1000;
  const outcomes = await Promise.all(handles.map((handle, i) => outcomeOf(i, jobs[i]!, handle, settled[i]!)));
  return { outcomes, seconds };
}

function samplesOf(outcomes: Outcome[]): Sample[] {
  return outcomes.map((outcome) => ({
    seconds: (outcome.closedAt - outcome.startedAt) / 1000,
    logicalBytes: outcome.logicalBytes,
    retries: outcome.failures.length + outcome.timeouts.length,
    ...(outcome.error ? { note: outcome.error } : {}),
  }));
}

/** The workers' logs stay when an attempt timed out or failed (the note names them), and go otherwise. */
async function keepLogsIfTroubled(workers: CliWorker[], trouble: string): Promise<string> {
  if (trouble) return `; worker logs: ${workers.map((worker) => path.relative(root, worker.logFile)).join(', ')}`;
  await Promise.all(workers.map((worker) => rm(worker.logFile, { force: true })));
  return '';
}

function workerSummary(workers: CliWorker[], outcomes: Outcome[]): { peakRss: number; text: string } {
  const runs = outcomes.flatMap((outcome) => outcome.activities);
  const peakRss = Math.max(...workers.map((worker) => worker.peakRssBytes()));
  const per = workers.map(
    (worker, i) =>
      `worker ${i + 1}: ${runs.filter((run) => run.identity === worker.identity).length} activities, RSS ${(worker.idleRssBytes / MB).toFixed(0)} MB idle, peak ${(worker.peakRssBytes() / MB).toFixed(0)} MB`,
  );
  return { peakRss, text: per.join('; ') };
}

/** "a ×2, b" */
function tally(items: string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([item, count]) => (count > 1 ? `${item} ×${count}` : item)).join(', ');
}

function outcomeCounts(outcomes: Outcome[]): {
  verified: number;
  timedOut: number;
  retries: number;
  /** What timed out, failed or went wrong, for the note: empty when nothing did. */
  trouble: string;
} {
  const errors = [...new Set(outcomes.flatMap((outcome) => (outcome.error ? [outcome.error] : [])))];
  const timeouts = outcomes.flatMap((outcome) => outcome.timeouts);
  const failures = outcomes.flatMap((outcome) => outcome.failures);
  return {
    verified: outcomes.filter((outcome) => outcome.verified).length,
    timedOut: timeouts.length,
    retries: timeouts.length + failures.length,
    trouble:
      (timeouts.length ? `; attempts timed out: ${tally(timeouts)}` : '') +
      (failures.length ? `; attempts failed: ${tally(failures)}` : '') +
      (errors.length ? `; errors: ${errors.join(' | ')}` : ''),
  };
}

async function concurrentClones(bench: Bench, cluster: LoadCluster, connections: ConnectionCounts[]): Promise<Row[]> {
  const dataBytes = 4 * bench.sizes.small;
  bench.log(`  making ${CONCURRENT_CLONES} VMs of ${formatSize(dataBytes)} random data on a…`);
  const vms = await makeSources(bench, 'c', CONCURRENT_CLONES, dataBytes);
  const jobs = await jobsFor(bench, vms, CONCURRENT_CLONES, 'c');
  const removeClones = cloneRemoval(bench, jobs);
  const taskQueue = loadTaskQueue('concurrent');
  const workers = await cluster.startWorkers(taskQueue, WORKERS);
  bench.log(
    `  ${CONCURRENT_CLONES} clones at once over ${WORKERS} workers (pids ${workers.map((w) => w.pid).join(', ')})…`,
  );
  const stopCounting = cluster.countConnections();
  const { outcomes, seconds } = await runJobs(cluster, taskQueue, jobs, 'together');
  connections.push(await stopCounting());
  const memory = workerSummary(workers, outcomes);
  await cluster.stopWorkers();
  await removeClones();
  const counts = outcomeCounts(outcomes);
  const logs = await keepLogsIfTroubled(workers, counts.trouble);

  const durations = outcomes.map((outcome) => (outcome.closedAt - outcome.startedAt) / 1000);
  const totalBytes = outcomes.reduce((sum, outcome) => sum + outcome.logicalBytes, 0);
  const variant = `${CONCURRENT_CLONES} clones at once (${formatSize(dataBytes)} data each), ${WORKERS} workers`;
  const p95 = percentile(durations, 0.95);
  bench.log(
    `  ${variant}: p50 ${percentile(durations, 0.5).toFixed(1)} s, p95 ${p95.toFixed(1)} s, all done in ${seconds.toFixed(1)} s; ${counts.verified}/${outcomes.length} verified, ${counts.timedOut} activity attempts timed out; ${memory.text}${counts.trouble}${logs}`,
  );
  return [
    {
      scenario: 'load',
      variant: `${variant}: p50 duration`,
      kind: 'kvm-clone',
      seconds: percentile(durations, 0.5),
      // Aggregate rate: every clone's bytes over the wall time of the whole batch.
      mbPerSecond: totalBytes / MB / seconds,
      logicalBytes: totalBytes,
      peakRssBytes: memory.peakRss,
      retries: counts.retries,
      target: 'all verified, no activity timed out',
      met: counts.verified === outcomes.length && counts.timedOut === 0,
      note: `p95 ${p95.toFixed(1)} s; batch ${seconds.toFixed(1)} s (MB/s: all clones' bytes / batch time); ${counts.verified}/${outcomes.length} verified; ${counts.timedOut} activity attempts timed out; ${memory.text}${counts.trouble}${logs}`,
      samples: samplesOf(outcomes),
    },
    { scenario: 'load', variant: `${variant}: p95 duration`, kind: 'info', seconds: p95, samples: [] },
  ];
}

/** Order and waits of the queued operations, from their histories. */
function queueFigures(outcomes: Outcome[]) {
  const byStart = ranks(outcomes.map((outcome) => outcome.startedAt));
  const finish = ranks(outcomes.map((outcome) => outcome.closedAt));
  const firstActivity = ranks(outcomes.map((outcome) => outcome.firstActivityAt));
  const runs = outcomes.flatMap((outcome) => outcome.activities);
  // A retried activity's start is its last attempt's, after the lost ones and the backoff: not a queue wait.
  const firstAttempts = runs.filter((run) => run.attempt === 1);
  const waits = firstAttempts.map((run) => (run.startedAt - run.scheduledAt) / 1000);
  const longestWait = firstAttempts[waits.indexOf(Math.max(...waits))];
  const closes = outcomes.map((outcome) => outcome.closedAt);
  const firstWaits = outcomes.map((outcome) => (outcome.firstActivityAt - outcome.startedAt) / 1000);
  const durations = outcomes.map((outcome) => (outcome.closedAt - outcome.startedAt) / 1000);
  return {
    finishOrder: spearman(byStart, finish),
    // The task queue itself: are activity tasks handed out in the order they were scheduled?
    taskOrder: spearman(ranks(runs.map((run) => run.scheduledAt)), ranks(runs.map((run) => run.startedAt))),
    firstActivityOrder: spearman(byStart, firstActivity),
    maxDisplacement: Math.max(...byStart.map((rank, i) => Math.abs(rank - finish[i]!))),
    maxWait: Math.max(...waits),
    longestWaitType: longestWait?.type ?? '',
    medianWait: median(waits),
    p95Wait: percentile(waits, 0.95),
    finishWindow: (Math.max(...closes) - Math.min(...closes)) / 1000,
    shortest: Math.min(...durations),
    activityCount: waits.length,
    maxFirstWait: Math.max(...firstWaits),
    longest: Math.max(...durations),
    medianDuration: median(durations),
    peaks: peakConcurrency(runs),
  };
}

async function queuedClones(bench: Bench, cluster: LoadCluster, connections: ConnectionCounts[]): Promise<Row[]> {
  const dataBytes = Math.max(1024 * 1024, bench.sizes.small / 4);
  bench.log(`  making ${QUEUE_SOURCES} VMs of ${formatSize(dataBytes)} random data on a…`);
  const vms = await makeSources(bench, 'q', QUEUE_SOURCES, dataBytes);
  const jobs = await jobsFor(bench, vms, QUEUED_CLONES, 'q');
  const removeClones = cloneRemoval(bench, jobs);
  const taskQueue = loadTaskQueue('queued');
  const workers = await cluster.startWorkers(taskQueue, WORKERS, QUEUE_ACTIVITY_LIMIT);
  bench.log(
    `  ${QUEUED_CLONES} clones started one after the other, ${QUEUE_ACTIVITY_LIMIT} activities per worker at most…`,
  );
  const stopCounting = cluster.countConnections();
  const { outcomes, seconds } = await runJobs(cluster, taskQueue, jobs, 'in order');
  connections.push(await stopCounting());
  const memory = workerSummary(workers, outcomes);
  await cluster.stopWorkers();
  await removeClones();
  const counts = outcomeCounts(outcomes);
  const logs = await keepLogsIfTroubled(workers, counts.trouble);

  const figures = queueFigures(outcomes);
  const peaks = workers.map((worker) => figures.peaks.get(worker.identity) ?? 0).join('/');
  const note =
    `finish order vs start order: Spearman ρ ${figures.finishOrder.toFixed(2)}, max displacement ${figures.maxDisplacement} places; ` +
    `first activity vs start order ρ ${figures.firstActivityOrder.toFixed(2)}; activity tasks started vs scheduled order ρ ${figures.taskOrder.toFixed(2)}; ` +
    `queue wait of an activity (scheduled → started, ${figures.activityCount} first attempts): p50 ${figures.medianWait.toFixed(1)} s, p95 ${figures.p95Wait.toFixed(1)} s, max ${figures.maxWait.toFixed(1)} s (${figures.longestWaitType}); ` +
    `start → first activity max ${figures.maxFirstWait.toFixed(1)} s; operation duration min ${figures.shortest.toFixed(1)} s, p50 ${figures.medianDuration.toFixed(1)} s, max ${figures.longest.toFixed(1)} s; all finished within ${figures.finishWindow.toFixed(1)} s of each other; ` +
    `${counts.verified}/${outcomes.length} verified, ${counts.timedOut} activity attempts timed out; most activities at once per worker ${peaks}; ${memory.text}${counts.trouble}${logs}`;
  bench.log(`  queue drained in ${seconds.toFixed(1)} s: ${note}`);
  return [
    {
      scenario: 'load',
      variant: `${QUEUED_CLONES} queued clones (${formatSize(dataBytes)} data each), ≤ ${QUEUE_ACTIVITY_LIMIT} activities per worker: drain time`,
      kind: 'kvm-clone',
      seconds,
      logicalBytes: outcomes.reduce((sum, outcome) => sum + outcome.logicalBytes, 0),
      peakRssBytes: memory.peakRss,
      retries: counts.retries,
      target: 'all verified; order and waits reported',
      met: counts.verified === outcomes.length,
      note,
      samples: samplesOf(outcomes),
    },
  ];
}

/**
 * Many client calls at once, with no worker: workflow starts (history, matching's backlog),
 * describes (history) and visibility lists, to see how far the server's pools reach.
 */
async function connectionBurst(cluster: LoadCluster): Promise<{ counts: ConnectionCounts; failures: number }> {
  const taskQueue = loadTaskQueue('burst');
  const client = cluster.client(taskQueue).temporal;
  const stopCounting = cluster.countConnections(100);
  const calls = Array.from({ length: BURST_CALLS }, async (_, i) => {
    const handle = await client.workflow.start('loadBurstProbe', {
      taskQueue,
      workflowId: `bench-load-burst-${i}-${Date.now()}`,
    });
    await handle.describe();
    await client.workflowService.listWorkflowExecutions({ namespace: 'default', pageSize: 20 });
  });
  const settled = await Promise.allSettled(calls);
  return { counts: await stopCounting(), failures: settled.filter((result) => result.status === 'rejected').length };
}

function connectionRow(
  idle: number,
  phases: ConnectionCounts[],
  burst: { counts: ConnectionCounts; failures: number },
  limit: number,
): Row {
  const [concurrent, queued] = phases;
  const describe = (counts: ConnectionCounts | undefined) =>
    counts
      ? `${counts.peakClients} (temporal ${counts.atPeak.temporal}, visibility ${counts.atPeak.visibility}; ${counts.peakTotal} rows in pg_stat_activity)`
      : 'n/a';
  return {
    scenario: 'load',
    variant: 'PostgreSQL client connections, peak',
    kind: 'info',
    note:
      `idle server ${idle}; concurrent clones ${describe(concurrent)}; queued clones ${describe(queued)}; ` +
      `burst of ${BURST_CALLS} starts + describes + lists ${describe(burst.counts)}, ${burst.failures} calls failed; ` +
      `max_connections ${limit}; the server's pools allow 4 services × (20 + 10) = 120`,
    samples: [],
  };
}

export const load: Scenario = {
  id: 'load',
  title: `Load on the production server (PostgreSQL): ${CONCURRENT_CLONES} clones at once over ${WORKERS} workers, then ${QUEUED_CLONES} queued clones`,
  // Minutes of VMs, server start and clones: never part of --quick.
  quick: false,
  async run(bench) {
    const { cluster, stop } = await LoadCluster.start(bench);
    try {
      const limit = await cluster.maxConnections();
      const idle = await cluster.countConnections()();
      const phases: ConnectionCounts[] = [];
      const rows = [
        ...(await concurrentClones(bench, cluster, phases)),
        ...(await queuedClones(bench, cluster, phases)),
      ];
      bench.log(`  a burst of ${BURST_CALLS} client calls, counting PostgreSQL connections…`);
      const burst = await connectionBurst(cluster);
      rows.push(connectionRow(idle.peakClients, phases, burst, limit));
      return rows;
    } finally {
      await stop();
    }
  },
};
