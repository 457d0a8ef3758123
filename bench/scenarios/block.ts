/**
 * A clone of a VM whose data disk is an empty 8 GiB block device: a loop device over a
 * sparse file standing in for an LVM volume (the lab has no device-mapper). Block devices
 * have no SEEK_DATA, so the source reads the device to find its zeros; the target
 * is that such a clone sends under 1 % of the device. Also times that scan alone.
 */
import path from 'node:path';
import { hostSpecSchema } from '../../src/domain/schemas/host';
import { openSshSession } from '../../src/hosts/ssh-session';
import { scanBlockDevice } from '../../src/hosts/zero-scan';
import { attachLoopDevice, detachLoopDevices, loopDevicesUnavailable } from '../../test/helpers/loop-device';
import type { Bench, BenchVm, Sample } from '../lib/context';
import { measureAll, type Row, type Scenario, type Variant } from '../lib/scenario';
import { GiB, formatSize } from '../lib/stats';

/** The size: big enough that sending it whole would show, sparse so it costs no disk. */
const deviceSize = 8 * GiB;
/** The target: bytes sent ÷ device size. */
const maxShare = 0.01;

/** A VM on host a whose vdb is a fresh loop device of `deviceSize`, all zeros but make-vm's marker. */
async function blockVm(bench: Bench): Promise<BenchVm & { device: string }> {
  const name = `bench-block-${process.pid}`;
  const dir = await bench.scratchDir('a', name);
  const vm = await bench.lab.makeVm('a', name, { dir, dataSize: '1M' });
  const loop = await attachLoopDevice(path.join(dir, 'device.img'), deviceSize, bench.lab.host('a').user);
  // The loop device goes first: found by its backing file, which removing the VM deletes.
  bench.atStop(async () => {
    await bench.lab.virsh('a', 'undefine', '--domain', name).catch(() => undefined);
    await detachLoopDevices(loop.backingFile);
    await bench.lab.removeVm('a', vm).catch(() => undefined);
  });
  await bench.lab.virsh('a', 'detach-disk', '--domain', name, 'vdb', '--config');
  await bench.lab.virsh(
    'a',
    'attach-disk',
    '--domain',
    name,
    loop.device,
    'vdb',
    '--config',
    '--targetbus',
    'virtio',
    '--subdriver',
    'raw',
    '--sourcetype',
    'block',
  );
  // `kind` only labels bench VMs; this one is not one of the shared ones that Bench.vm() makes.
  return { ...vm, kind: 'small', apparentBytes: deviceSize, dataBytes: 0, device: loop.device };
}

/** The zero scan of the whole device on host a, as mapFiles runs it, through its own session. */
async function timeScan(bench: Bench, device: string): Promise<Sample> {
  const session = await openSshSession(hostSpecSchema.parse(bench.lab.hostSpec('a')));
  try {
    const stopHostCpu = await bench.hostCpuWindow();
    const started = performance.now();
    const extents = await scanBlockDevice(session, device, { start: 0, length: deviceSize });
    const seconds = (performance.now() - started) / 1000;
    return {
      seconds,
      logicalBytes: deviceSize,
      hostCpu: await stopHostCpu(),
      note: `${extents.length} data extent(s)`,
    };
  } finally {
    session.close();
  }
}

export const block: Scenario = {
  id: 'block',
  title: 'Clone of an empty 8 GiB block device (a loop device): bytes sent ÷ size',
  quick: true,
  async run(bench) {
    const unavailable = loopDevicesUnavailable();
    if (unavailable)
      return [{ scenario: this.id, variant: '(skipped)', kind: 'info', note: `skipped: ${unavailable}`, samples: [] }];
    const vm = await blockVm(bench);
    // Per run: what the whole clone sent (the root disk included), and the device's copy alone.
    const sent: { clone: number; device: number }[] = [];
    const variants: Variant[] = [
      {
        name: 'kvm-clone relay, verify on',
        kind: 'kvm-clone',
        measure: async () => {
          const sample = await bench.clone(vm, {});
          const file = sample.result.files.find((each) => each.target === 'vdb');
          sent.push({ clone: sample.result.bytesTransferred, device: file?.bytesTransferred ?? Number.NaN });
          return sample;
        },
      },
      { name: 'zero scan alone (python3, direct I/O)', kind: 'info', measure: () => timeScan(bench, vm.device) },
    ];
    const rows = await measureAll(bench, this.id, variants);
    const clone = rows.get('kvm-clone relay, verify on')!;
    const worst = Math.max(...sent.map((run) => run.clone));
    const share = worst / deviceSize;
    clone.target = `clone sends < ${maxShare * 100} % of ${formatSize(deviceSize)}`;
    clone.met = share < maxShare;
    clone.note = `the clone sent ${worst} B (${(share * 100).toFixed(3)} % of the device), the device's copy ${Math.max(...sent.map((run) => run.device))} B; verify hashes the whole device; MB/s of apparent size`;
    const scan = rows.get('zero scan alone (python3, direct I/O)')!;
    scan.note = `${scan.note ?? ''}; MB/s of the device read`.replace(/^; /, '');
    return [...rows.values()] as Row[];
  },
};
