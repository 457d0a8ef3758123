/**
 * The extent relay on its own, in this process over the product's ssh2 sessions:
 * compression on compressible vs random data, sparse extents vs a naive full copy, and
 * ssh2 with vs without its native crypto binding (in fresh processes).
 */
import path from 'node:path';
import { rm } from 'node:fs/promises';
import type { CompressionCodec } from '../../src/domain/compression';
import type { Extent } from '../../src/domain/transfer-plan';
import { relayExtents } from '../../src/hosts/extent-relay';
import { RemoteDisk } from '../../src/hosts/remote-disk';
import { settle, type Bench, type Sample } from '../lib/context';
import { runProbe } from '../lib/probe';
import { judge, measureAll, type Row, type Scenario, type Variant } from '../lib/scenario';
import { formatSize } from '../lib/stats';

let relayCount = 0;

/** One relay a → b of `extents` of `sourcePath` into a fresh sparse file of `size` bytes. */
export async function relayOnce(
  bench: Bench,
  sourcePath: string,
  size: number,
  extents: Extent[],
  compression: CompressionCodec = 'none',
): Promise<Sample> {
  const { a, b } = await bench.relaySessions();
  const dir = await bench.scratchDir('b', 'relay');
  const destinationPath = path.join(dir, `out-${++relayCount}.img`);
  await new RemoteDisk(b).createSparseFile(destinationPath, size);
  const stopHostCpu = await bench.hostCpuWindow();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const relayed = await relayExtents({ source: a, destination: b, sourcePath, destinationPath, extents, compression });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const sample: Sample = {
    seconds,
    logicalBytes: size,
    wireBytes: relayed.wireBytes,
    clientCpu: (used.user + used.system) / 1e6,
    hostCpu: await stopHostCpu(),
  };
  await rm(destinationPath, { force: true });
  await settle(destinationPath);
  return sample;
}

export const compression: Scenario = {
  id: 'compression',
  title: 'Relay with and without compression, compressible vs random data',
  quick: true,
  async run(bench) {
    const rows: Row[] = [];
    for (const data of ['compressible', 'random'] as const) {
      const file = await bench.sampleFile(data, bench.sizes.relay);
      const codecs: CompressionCodec[] = ['none', 'zstd', 'lz4'];
      const variants: Variant[] = codecs.map((codec) => ({
        name: `${data} data, ${codec === 'none' ? 'no compression' : codec}`,
        kind: codec === 'none' ? 'baseline' : 'kvm-clone',
        measure: () => relayOnce(bench, file.path, file.size, [{ start: 0, length: file.size }], codec),
      }));
      const measured = await measureAll(bench, this.id, variants);
      const plain = measured.get(variants[0]!.name);
      for (const [index, variant] of variants.entries()) {
        const row = measured.get(variant.name)!;
        if (index > 0) judge(row, plain);
        row.note = `${formatSize(file.size)} ${data === 'random' ? 'random' : 'of a tar of /usr'}; wire/data ${row.wireBytes && row.logicalBytes ? (row.wireBytes / row.logicalBytes).toFixed(2) : '?'}`;
        rows.push(row);
      }
    }
    return rows;
  },
};

export const sparseVersusNaive: Scenario = {
  id: 'sparse-vs-naive',
  title: 'Sparse copy (data extents only) vs a naive full copy, same relay',
  quick: true,
  async run(bench) {
    const vm = await bench.vm('sparse');
    const size = bench.sizes.sparse.size;
    const { a } = await bench.relaySessions();
    const extents = await new RemoteDisk(a).dataExtents(vm.dataPath, { start: 0, length: size });
    const variants: Variant[] = [
      {
        name: 'relay of data extents (kvm-clone)',
        kind: 'kvm-clone',
        measure: () => relayOnce(bench, vm.dataPath, size, extents),
      },
      {
        name: 'relay of the whole file (naive)',
        kind: 'baseline',
        measure: () => relayOnce(bench, vm.dataPath, size, [{ start: 0, length: size }]),
      },
    ];
    const rows = await measureAll(bench, this.id, variants);
    judge(rows.get(variants[0]!.name)!, rows.get(variants[1]!.name));
    for (const row of rows.values())
      row.note = `data disk ${formatSize(size)} with ${formatSize(bench.sizes.sparse.data)} data in ${extents.length} extent(s); MB/s of apparent size`;
    return [...rows.values()];
  },
};

export const nativeBinding: Scenario = {
  id: 'ssh2-binding',
  title: 'ssh2 with vs without its native crypto binding (relay, fresh process each)',
  quick: true,
  async run(bench) {
    const file = await bench.sampleFile('random', bench.sizes.relay);
    const dir = await bench.scratchDir('b', 'relay');
    let count = 0;
    const probe = (withoutBinding: boolean) => async (): Promise<Sample> => {
      const destinationPath = path.join(dir, `probe-${++count}.img`);
      const stopHostCpu = await bench.hostCpuWindow();
      const output = await runProbe(
        {
          kind: 'relay',
          source: bench.lab.hostSpec('a'),
          destination: bench.lab.hostSpec('b'),
          sourcePath: file.path,
          destinationPath,
          size: file.size,
        },
        { withoutBinding },
      );
      await rm(destinationPath, { force: true });
      await settle(destinationPath);
      if (output.bindingLoaded === withoutBinding)
        throw new Error(`the probe ${withoutBinding ? 'still loaded' : 'did not load'} ssh2's native binding`);
      return {
        seconds: output.seconds,
        logicalBytes: file.size,
        wireBytes: output.wireBytes,
        clientCpu: output.cpuSeconds,
        hostCpu: await stopHostCpu(),
        note: `binding ${output.bindingLoaded ? 'loaded' : 'not loaded'}`,
      };
    };
    const variants: Variant[] = [
      { name: 'ssh2 with native binding', kind: 'kvm-clone', measure: probe(false) },
      { name: 'ssh2 without native binding', kind: 'baseline', measure: probe(true) },
    ];
    const rows = await measureAll(bench, this.id, variants);
    const withBinding = rows.get(variants[0]!.name)!;
    judge(withBinding, rows.get(variants[1]!.name));
    withBinding.note = `the worker of this run has the binding ${bench.workerBindingLoaded ? 'LOADED' : 'NOT LOADED'}; ${formatSize(file.size)} random`;
    rows.get(variants[1]!.name)!.note = 'ssh2 falls back to pure-JS ciphers (as after npm install --ignore-scripts)';
    return [...rows.values()];
  },
};
