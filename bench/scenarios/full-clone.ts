/**
 * Full clones through the real workflow against scp -3, the ssh dd relay, host-to-host
 * OpenSSH and rsync --sparse, on a dense random disk and on a sparse one.
 */
import { formatSize } from '../lib/stats';
import { judge, measureAll, type Row, type Scenario, type Variant } from '../lib/scenario';
import type { Bench, BenchVm } from '../lib/context';
import { copyWithBaseline, type BaselineTool } from './copy-baselines';

function baselineVariant(bench: Bench, vm: () => BenchVm, tool: BaselineTool, skip?: string): Variant {
  let run = 0;
  return {
    name: tool,
    kind: 'baseline',
    ...(skip ? { skip } : {}),
    measure: () => copyWithBaseline(bench, tool, vm(), ++run),
  };
}

function faster(a: Row | undefined, b: Row | undefined): Row | undefined {
  if (!a?.mbPerSecond) return b;
  if (!b?.mbPerSecond) return a;
  return a.mbPerSecond >= b.mbPerSecond ? a : b;
}

export const denseClone: Scenario = {
  id: 'clone-dense',
  title: 'Full clone, dense random disk, relay mode',
  quick: true,
  async run(bench) {
    const vm = await bench.vm('dense');
    const trust = await bench.hostToHostTrust();
    const id = this.id;
    const variants: Variant[] = [
      { name: 'kvm-clone relay, verify off', kind: 'kvm-clone', measure: () => bench.clone(vm, { verify: false }) },
      { name: 'kvm-clone relay, verify on', kind: 'kvm-clone', measure: () => bench.clone(vm, { verify: true }) },
      baselineVariant(bench, () => vm, 'scp -3'),
      baselineVariant(bench, () => vm, 'ssh dd relay'),
      baselineVariant(bench, () => vm, 'ssh host-to-host dd', trust.ok ? undefined : trust.reason),
      // Direct mode: host a pushes to b over its own OpenSSH, with its user's default key and known_hosts.
      {
        name: 'kvm-clone direct, verify off',
        kind: 'kvm-clone',
        ...(trust.ok ? {} : { skip: trust.reason }),
        measure: () => bench.clone(vm, { verify: false, direct: true }),
      },
      // One stream, as the baseline: on few cores, parallel pushes compete for the hosts' CPU.
      {
        name: 'kvm-clone direct, verify off, parallel 1',
        kind: 'kvm-clone',
        ...(trust.ok ? {} : { skip: trust.reason }),
        measure: () => bench.clone(vm, { verify: false, direct: true, parallel: 1 }),
      },
    ];
    const rows = await measureAll(bench, id, variants);
    const best = faster(rows.get('scp -3'), rows.get('ssh dd relay'));
    judge(rows.get('kvm-clone relay, verify off')!, best, { min: 1.2, text: '≥ 1.2× faster baseline' });
    judge(rows.get('kvm-clone relay, verify on')!, best, { min: 1.0, text: '≥ 1.0× faster baseline' });
    judge(rows.get('kvm-clone direct, verify off')!, rows.get('ssh host-to-host dd'), {
      min: 0.95,
      text: '≥ 0.95× ssh host-to-host dd',
    });
    judge(rows.get('kvm-clone direct, verify off, parallel 1')!, rows.get('ssh host-to-host dd'), {
      min: 0.95,
      text: '≥ 0.95× ssh host-to-host dd',
    });
    for (const row of rows.values())
      row.note ??= `disk ${formatSize(vm.apparentBytes)} (${formatSize(vm.dataBytes)} data)`;
    return [...rows.values()];
  },
};

export const sparseClone: Scenario = {
  id: 'clone-sparse',
  title: 'Full clone, sparse disk',
  quick: true,
  async run(bench) {
    const vm = await bench.vm('sparse');
    const trust = await bench.hostToHostTrust();
    const variants: Variant[] = [
      { name: 'kvm-clone relay, verify on', kind: 'kvm-clone', measure: () => bench.clone(vm, {}) },
      baselineVariant(bench, () => vm, 'rsync --sparse host-to-host', trust.ok ? undefined : trust.reason),
      baselineVariant(bench, () => vm, 'scp -3'),
    ];
    const rows = await measureAll(bench, this.id, variants);
    const tool = rows.get('kvm-clone relay, verify on')!;
    const versusScp: Row = { ...tool, variant: 'kvm-clone relay, verify on (vs scp)', samples: tool.samples };
    judge(tool, rows.get('rsync --sparse host-to-host'), { min: 1.5, text: '≥ 1.5× rsync --sparse' });
    judge(versusScp, rows.get('scp -3'), { min: 5, text: '≥ 5× scp -3' });
    for (const row of [...rows.values(), versusScp])
      row.note ??= `disk ${formatSize(vm.apparentBytes)}, ${formatSize(vm.dataBytes)} data; MB/s of apparent size`;
    return [tool, versusScp, ...[...rows.values()].filter((row) => row !== tool)];
  },
};

export const parallelism: Scenario = {
  id: 'parallel',
  title: 'parallel 1 vs 4 (dense disk, verify off)',
  quick: true,
  async run(bench) {
    const vm = await bench.vm('dense');
    const variants: Variant[] = [
      {
        name: 'kvm-clone parallel 4',
        kind: 'kvm-clone',
        measure: () => bench.clone(vm, { verify: false, parallel: 4 }),
      },
      {
        name: 'kvm-clone parallel 1',
        kind: 'baseline',
        measure: () => bench.clone(vm, { verify: false, parallel: 1 }),
      },
    ];
    const rows = await measureAll(bench, this.id, variants);
    const four = rows.get('kvm-clone parallel 4')!;
    judge(four, rows.get('kvm-clone parallel 1'));
    const ranges = Math.ceil(vm.dataBytes / Math.max(256 * 1024 * 1024, Math.ceil(vm.dataBytes / 16)));
    four.note = `about ${ranges} range(s) of ≤256 MiB in the data disk, + 1 for the root disk; 2 cores shared by both sshds and the worker`;
    return [...rows.values()];
  },
};
