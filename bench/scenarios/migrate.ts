/**
 * migrateVM of a running VM whose guest keeps writing about 1 MB/s into a qcow2 disk
 * holding the data size of the sync scenario, against a cold move (shut the VM down, clone
 * it, start the copy). What counts is the downtime: from the pause to the copy's start for
 * the warm migration, libvirt's own measure of its switch-over in live mode, the whole copy
 * for the cold move.
 */
import { rm } from 'node:fs/promises';
import type { MigrateResult } from '../../src/domain/migration';
import type { Bench, BenchVm, Sample } from '../lib/context';
import { judge, measureAll, type Scenario, type Variant } from '../lib/scenario';
import { formatSize } from '../lib/stats';
import { bootOnA, guestDataOffset, makeRunningVm } from './sync-checkpoint';

const MiB = 1024 * 1024;
const downtimeTarget = 5;

/** The guest writes 1 MiB of random data a second at random places in its data, past its root filesystem. */
function writerScript(dataBytes: number): string {
  const firstMiB = guestDataOffset / MiB;
  const slots = Math.max(1, Math.floor(dataBytes / MiB) - 1);
  return `while true; do dd if=/dev/urandom of=/dev/vda bs=1048576 seek=$((${firstMiB} + RANDOM % ${slots})) count=1 conv=fsync 2>/dev/null; sleep 1; done`;
}

/** Removes the VM `name` from b: its domain and the files its definition names. */
async function removeFromB(bench: Bench, name: string): Promise<void> {
  const xml = await bench.lab.virsh('b', 'dumpxml', '--inactive', '--domain', name).catch(() => '');
  const files = [...xml.matchAll(/<source file='([^']+)'/g)].map((match) => match[1]!);
  await bench.lab.virsh('b', 'destroy', '--domain', name).catch(() => undefined);
  await bench.lab.virsh('b', 'undefine', '--nvram', '--checkpoints-metadata', '--domain', name).catch(() => undefined);
  for (const file of files) await rm(file, { force: true });
}

export const migrate: Scenario = {
  id: 'migrate',
  title: 'migrateVM of a running VM writing ~1 MB/s: downtime, against a cold move (shut down, clone, start)',
  quick: false,
  async run(bench) {
    const dataBytes = bench.sizes.sync;
    const vm: BenchVm = await makeRunningVm(bench, dataBytes, {
      prefix: 'bench-mig',
      guestScript: writerScript(dataBytes),
    });
    bench.atStop(() => removeFromB(bench, vm.name));
    const migrationSample = (mode: 'warm' | 'live') => async (): Promise<Sample> => {
      if ((await bench.lab.domainState('a', vm.name)) !== 'running') await bootOnA(bench, vm);
      const result: MigrateResult = await bench.client.migrate({
        source: 'a',
        destination: 'b',
        vmName: vm.name,
        keepSource: true,
        mode,
      });
      await removeFromB(bench, vm.name);
      const passes = result.passes.map((pass) => `${pass.kind} ${pass.seconds.toFixed(1)} s`).join(', ');
      const what = mode === 'live' ? "libvirt's job" : `${result.passes.length} passes`;
      return {
        seconds: result.downtimeSeconds,
        logicalBytes: vm.apparentBytes,
        wireBytes: result.bytesTransferred,
        note: `${what} (${passes}); ${result.durationSeconds.toFixed(0)} s in all`,
      };
    };
    const coldSample = async (): Promise<Sample> => {
      await bench.lab.virsh('a', 'destroy', '--domain', vm.name).catch(() => undefined);
      const started = Date.now();
      const result = await bench.client.clone({
        source: 'a',
        destination: 'b',
        vmName: vm.name,
        newName: vm.name,
        start: true,
      });
      const seconds = (Date.now() - started) / 1000;
      await removeFromB(bench, vm.name);
      return { seconds, logicalBytes: vm.apparentBytes, wireBytes: result.bytesTransferred };
    };
    const names = {
      migrate: 'kvm-clone migrate (warm, pause cutover): downtime',
      live: "kvm-clone migrate --mode live (libvirt's live migration): downtime",
      cold: 'cold move: shut down, kvm-clone clone, start: downtime',
    };
    const rows = await measureAll(bench, this.id, [
      { name: names.migrate, kind: 'kvm-clone', measure: migrationSample('warm') },
      { name: names.live, kind: 'kvm-clone', measure: migrationSample('live') },
      { name: names.cold, kind: 'baseline', measure: coldSample },
    ] satisfies Variant[]);
    const warm = rows.get(names.migrate)!;
    judge(warm, rows.get(names.cold), { text: `downtime < ${downtimeTarget} s` });
    warm.met = warm.seconds !== undefined && warm.seconds < downtimeTarget;
    warm.note = [
      `qcow2 disk of ${formatSize(vm.apparentBytes)} with ${formatSize(dataBytes)} of guest data, the guest writing 1 MiB/s`,
      ...warm.samples.map((sample) => sample.note),
    ].join('; ');
    const live = rows.get(names.live)!;
    live.note = [
      "libvirt's downtime (its switch-over pause), for comparison with warm mode; no target",
      ...live.samples.map((sample) => sample.note),
    ].join('; ');
    return [...rows.values()];
  },
};
