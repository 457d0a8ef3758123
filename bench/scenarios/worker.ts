/**
 * The worker process itself: memory while cloning a larger disk vs a smaller one, resume
 * after a SIGKILL, and the orchestration overhead of a small clone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sample } from '../lib/context';
import { processIo } from '../lib/proc';
import { measureAll, type Row, type Scenario, type Variant } from '../lib/scenario';
import { MB, formatSize, median } from '../lib/stats';
import { RemoteDisk } from '../../src/hosts/remote-disk';
import { relayExtents } from '../../src/hosts/extent-relay';
import path from 'node:path';
import { rm } from 'node:fs/promises';

const rssTarget = 300 * MB;

export const memory: Scenario = {
  id: 'memory',
  title: 'Worker memory: clone of a larger disk vs a smaller one (parallel 4)',
  quick: true,
  async run(bench) {
    const small = await bench.vm('small');
    const large = await bench.vm('memory-large');
    const variants: Variant[] = [
      {
        name: `larger disk (${formatSize(large.apparentBytes)}, ${formatSize(large.dataBytes)} data)`,
        kind: 'kvm-clone',
        measure: () => bench.clone(large, { parallel: 4 }),
      },
      {
        name: `smaller disk (${formatSize(small.apparentBytes)}, ${formatSize(small.dataBytes)} data)`,
        kind: 'baseline',
        measure: () => bench.clone(small, { parallel: 4 }),
      },
    ];
    const rows = await measureAll(bench, this.id, variants);
    const [largeRow, smallRow] = [rows.get(variants[0]!.name)!, rows.get(variants[1]!.name)!];
    if (largeRow.peakRssBytes && smallRow.peakRssBytes) {
      largeRow.ratio = largeRow.peakRssBytes / smallRow.peakRssBytes;
      largeRow.ratioTo = 'smaller disk, peak RSS';
      largeRow.ratioKind = 'memory';
      largeRow.target = 'peak RSS ≤ 300 MB; ratio ≈ 1 (flat)';
      largeRow.met = largeRow.peakRssBytes <= rssTarget;
      const heap =
        largeRow.peakHeapBytes && smallRow.peakHeapBytes
          ? (largeRow.peakHeapBytes / smallRow.peakHeapBytes).toFixed(2)
          : '?';
      const idle = median(largeRow.samples.map((sample) => sample.startRssBytes ?? Number.NaN));
      largeRow.note = `peak heap ratio ${heap}; data ratio ${(large.dataBytes / small.dataBytes).toFixed(1)}×; worker RSS at the start of the clone ${(idle / MB).toFixed(0)} MB, growth ${((largeRow.peakRssBytes - idle) / MB).toFixed(0)} MB (smaller disk: ${((smallRow.peakRssBytes - median(smallRow.samples.map((sample) => sample.startRssBytes ?? Number.NaN))) / MB).toFixed(0)} MB)`;
    }
    return [largeRow, smallRow];
  },
};

export const resume: Scenario = {
  id: 'resume',
  title: 'Resume: SIGKILL the worker at about 50%, then start a new one',
  quick: false,
  async run(bench) {
    const vm = await bench.vm('resume');
    const samples: Sample[] = [];
    const notes: string[] = [];
    // Each run waits out the 30 s heartbeat timeout: once by default, twice with --full.
    const runs = bench.sizes.runs >= 5 ? 2 : 1;
    for (let round = 0; round < runs; round++) {
      let killedWire = 0;
      let replacement: { pid: number; write0: number } | undefined;
      let killedAt = 0;
      const sample = await bench.clone(
        vm,
        { parallel: 4, bandwidthLimit: bench.sizes.resume.bandwidth },
        {
          whileRunning: async () => {
            const pid = bench.workerPid;
            const write0 = processIo(pid).writeBytes;
            const started = performance.now();
            for (;;) {
              const written = processIo(pid).writeBytes - write0;
              if (written >= vm.dataBytes / 2) {
                killedWire = written;
                break;
              }
              if (performance.now() - started > 10 * 60_000) throw new Error('the clone never reached 50%');
              await sleep(20);
            }
            killedAt = (performance.now() - started) / 1000;
            await bench.killWorker();
            await bench.startWorker();
            replacement = { pid: bench.workerPid, write0: processIo(bench.workerPid).writeBytes };
          },
        },
      );
      const afterWire = replacement ? processIo(replacement.pid).writeBytes - replacement.write0 : 0;
      sample.wireBytes = killedWire + afterWire;
      samples.push(sample);
      notes.push(
        `killed at ${killedAt.toFixed(1)} s with ${formatSize(killedWire)} sent; bytesResumed ${formatSize(sample.result.bytesResumed)}`,
      );
      bench.log(
        `  resume · run ${round + 1}/${runs}: ${sample.seconds.toFixed(1)} s, ${(sample.wireBytes / vm.dataBytes).toFixed(3)}× the allocated bytes on the wire`,
      );
    }
    const ratio = median(samples.map((s) => s.wireBytes! / vm.dataBytes));
    const row: Row = {
      scenario: this.id,
      variant: `kvm-clone, killed once at ~50% (${bench.sizes.resume.bandwidth}/s limit)`,
      kind: 'kvm-clone',
      seconds: median(samples.map((s) => s.seconds)),
      mbPerSecond: median(samples.map((s) => s.logicalBytes / MB / s.seconds)),
      logicalBytes: vm.apparentBytes,
      wireBytes: median(samples.map((s) => s.wireBytes!)),
      hostCpu: median(samples.map((s) => s.hostCpu!)),
      ratio,
      ratioTo: 'allocated bytes',
      ratioKind: 'bytes',
      target: 'bytes sent ≤ 1.1× allocated',
      met: ratio <= 1.1,
      note: `wall time includes the 30 s heartbeat timeout; ${notes.join('; ')}`,
      samples,
    };
    return [row];
  },
};

export const overhead: Scenario = {
  id: 'overhead',
  title: 'Orchestration overhead: end-to-end clone of a small VM minus its transfer time',
  quick: true,
  async run(bench) {
    const vm = await bench.vm('small');
    const { a, b } = await bench.relaySessions();
    const files = [vm.rootPath, vm.dataPath];
    const layouts = await Promise.all(
      files.map(async (file) => {
        const size = (await new RemoteDisk(a).fileSize(file))!;
        return { file, size, extents: await new RemoteDisk(a).dataExtents(file, { start: 0, length: size }) };
      }),
    );
    const dir = await bench.scratchDir('b', 'overhead');
    let count = 0;
    const variants: Variant[] = [
      { name: 'kvm-clone end to end (defaults: verify on)', kind: 'kvm-clone', measure: () => bench.clone(vm, {}) },
      {
        name: 'its transfer alone (same extents, open sessions)',
        kind: 'baseline',
        async measure(): Promise<Sample> {
          const run = ++count;
          const started = performance.now();
          await Promise.all(
            layouts.map(async ({ file, size, extents }, index) => {
              const destinationPath = path.join(dir, `${run}-${index}-${path.basename(file)}`);
              await new RemoteDisk(b).createSparseFile(destinationPath, size);
              await relayExtents({ source: a, destination: b, sourcePath: file, destinationPath, extents });
            }),
          );
          const seconds = (performance.now() - started) / 1000;
          await rm(dir, { recursive: true, force: true });
          await bench.scratchDir('b', 'overhead');
          return { seconds, logicalBytes: vm.apparentBytes };
        },
      },
    ];
    const rows = await measureAll(bench, this.id, variants);
    const endToEnd = rows.get(variants[0]!.name)!;
    const transfer = rows.get(variants[1]!.name)!;
    const overheadSeconds = endToEnd.seconds! - transfer.seconds!;
    endToEnd.ratio = overheadSeconds;
    endToEnd.ratioTo = 'overhead s (end to end − transfer)';
    endToEnd.ratioKind = 'seconds';
    endToEnd.target = 'overhead ≤ 2 s';
    endToEnd.met = overheadSeconds <= 2;
    endToEnd.note = `VM of ${formatSize(vm.apparentBytes)} (${formatSize(vm.dataBytes)} data): preflight, map, prepare, ranges, verify, define`;
    return [endToEnd, transfer];
  },
};
