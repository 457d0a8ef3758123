/**
 * syncVM of a running VM whose qcow2 root disk the guest changes by 1%, three ways, each
 * into its own copy on host b: with checkpoints (the bitmap names the changed clusters),
 * by hashing every block, and rsync --inplace of the image files. Every round changes the
 * guest's disk once, then runs each of the three, so each brings its copy forward by
 * exactly that change.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SyncInput } from '../../src/domain/schemas/sync-input';
import type { Bench, BenchVm } from '../lib/context';
import { writeRandomLayout } from '../lib/context';
import { judge, measureAll, type Scenario, type Variant } from '../lib/scenario';
import { q, runShell } from '../lib/shell';
import { formatSize, MB } from '../lib/stats';
import { measureRsync, measureSync, medianOf, mb, type SyncSetup } from './sync';

const MiB = 1024 * 1024;
/** The root filesystem make-vm builds; the guest data the bench writes lies past it. */
const filesystemBytes = 32 * MiB;
const writeBytes = 256 * 1024;
const changedShare = 0.01;

/** A guest write through qemu's block layer, as the guest's own would be: the dirty bitmap sees it. */
async function guestWrite(bench: Bench, vmName: string, offset: number, length: number): Promise<void> {
  const output = await bench.lab.virsh(
    'a',
    'qemu-monitor-command',
    '--domain',
    vmName,
    '--hmp',
    `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P ${randomInt(1, 255)} ${offset} ${length}"`,
  );
  if (/error|failed/i.test(output)) throw new Error(`qemu-io write failed: ${output}`);
}

/** `changedShare` of the guest data rewritten in 256 KiB writes at random aligned offsets; returns the bytes. */
async function changeGuest(bench: Bench, vmName: string, dataBytes: number): Promise<number> {
  const slots = Math.floor(dataBytes / writeBytes);
  const count = Math.max(1, Math.round((dataBytes * changedShare) / writeBytes));
  const picked = new Set<number>();
  while (picked.size < count) picked.add(randomInt(0, slots));
  for (const slot of [...picked].sort((x, y) => x - y))
    await guestWrite(bench, vmName, filesystemBytes + slot * writeBytes, writeBytes);
  return count * writeBytes;
}

/** The guest data a bench VM's root disk holds starts here, past the root filesystem make-vm builds. */
export const guestDataOffset = filesystemBytes;

/**
 * A running VM on a whose root qcow2 holds `dataBytes` of random guest data past its
 * filesystem. The guest runs `guestScript` (idle by default) once it has said KVMCLONE-IDLE.
 */
export async function makeRunningVm(
  bench: Bench,
  dataBytes: number,
  options: { prefix?: string; guestScript?: string } = {},
): Promise<BenchVm> {
  const name = `${options.prefix ?? 'bench-cp'}-${randomBytes(3).toString('hex')}`;
  const dir = path.join(bench.homeOf('a'), bench.workDir, name);
  const idle = path.join(bench.homeOf('a'), bench.workDir, `${name}-run.sh`);
  await writeFile(idle, `echo KVMCLONE-IDLE\n${options.guestScript ?? 'while true; do sleep 60; done'}\n`);
  const made = await bench.lab.makeVm('a', name, {
    dir,
    dataSize: '1M',
    rootSize: `${filesystemBytes + dataBytes}`,
    runScript: idle,
  });
  bench.atStop(async () => {
    await bench.lab.virsh('a', 'destroy', '--domain', name).catch(() => undefined);
    await bench.lab.virsh('a', 'undefine', '--checkpoints-metadata', '--domain', name).catch(() => undefined);
  });
  bench.log(`making running VM ${name}: root qcow2 with ${formatSize(dataBytes)} of random guest data`);
  const raw = `${made.rootPath}.raw`;
  const random = `${made.rootPath}.random`;
  await writeRandomLayout(random, dataBytes, dataBytes, name);
  await runShell(
    [
      `qemu-img convert -f qcow2 -O raw ${q(made.rootPath)} ${q(raw)}`,
      `dd if=${q(random)} of=${q(raw)} bs=4M oflag=seek_bytes seek=${filesystemBytes} conv=notrunc status=none`,
      `qemu-img convert -f raw -O qcow2 ${q(raw)} ${q(made.rootPath)}`,
      `rm -f ${q(raw)} ${q(random)}`,
    ].join(' && '),
  );
  await runShell(`chown -R ${q(`${bench.lab.host('a').user}:`)} ${q(dir)}`);
  // One qcow2 disk: make-vm's raw data disk would be hashed by every variant and blur the comparison.
  await bench.lab.virsh('a', 'detach-disk', '--domain', name, '--target', 'vdb', '--config');
  await bootOnA(bench, made);
  return { ...made, name, kind: 'sync', apparentBytes: (await stat(made.rootPath)).size, dataBytes };
}

/** Starts a bench VM on a and waits until its guest has booted and started its run script. */
export async function bootOnA(bench: Bench, vm: { name: string; dir: string }): Promise<void> {
  const console = path.join(vm.dir, 'console.log');
  // Emptied, never created: a file made here would be root's, and the guest's qemu could not open it.
  await truncate(console, 0).catch(() => undefined);
  await bench.lab.virsh('a', 'start', '--domain', vm.name);
  for (let attempt = 0; !(await readFile(console, 'utf8').catch(() => '')).includes('KVMCLONE-IDLE'); attempt++) {
    if (attempt > 600) throw new Error(`${vm.name} did not boot`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export const syncCheckpoint: Scenario = {
  id: 'sync-checkpoint',
  title: 'syncVM of a running VM with checkpoints, against hashing and rsync, after 1% of its qcow2 disk changed',
  quick: false,
  async run(bench) {
    const dataBytes = bench.sizes.sync;
    const vm = await makeRunningVm(bench, dataBytes);
    const hashTarget = `${vm.name}-h`;
    const targets = await bench.scratchDir('b', `${vm.name}-targets`);
    bench.atStop(async () => {
      for (const name of [vm.name, hashTarget])
        await bench.lab.virsh('b', 'undefine', '--domain', name).catch(() => undefined);
      await rm(targets, { recursive: true, force: true });
    });
    bench.log('cloning the running VM to b twice (checkpoint target, hashing target)…');
    const copyPaths = async (newName: string) => {
      const clone = await bench.client.clone({
        source: 'a',
        destination: 'b',
        vmName: vm.name,
        newName,
        destDir: targets,
        verify: false,
      });
      const byPath = new Map(clone.files.map((file) => [file.sourcePath, file.destinationPath]));
      return { root: byPath.get(vm.rootPath)! };
    };
    const checkpointSetup: SyncSetup = { vm, targetPaths: await copyPaths(vm.name), digestBytes: 0 };
    const hashSetup: SyncSetup = { vm, targetPaths: await copyPaths(hashTarget), digestBytes: 0 };
    const rsyncSetup: SyncSetup = { vm, targetPaths: { root: path.join(targets, 'rsync-root.qcow2') }, digestBytes: 0 };
    await runShell(`cp --sparse=always ${q(checkpointSetup.targetPaths.root)} ${q(rsyncSetup.targetPaths.root)}`);
    await runShell(`chown -R ${q(`${bench.lab.host('b').user}:`)} ${q(targets)}`);

    const checkpointInput: Partial<SyncInput> = { checkpoint: true };
    const hashInput: Partial<SyncInput> = { targetName: hashTarget };
    bench.log('untimed syncs: the first checkpoint, and every copy equal to the source…');
    await bench.client.sync({ source: 'a', destination: 'b', vmName: vm.name, ...checkpointInput });
    await bench.client.sync({ source: 'a', destination: 'b', vmName: vm.name, ...hashInput });
    const trust = await bench.hostToHostTrust();
    const noTrust = trust.ok ? {} : { skip: trust.reason! };
    if (trust.ok) await measureRsync(bench, rsyncSetup, 0);

    // One guest change per round: the first variant to run in a round makes it, the others sync the same change.
    let change = 0;
    let changedBytes = 0;
    const seen = new Map<string, number>();
    const changed = async (variant: string): Promise<number> => {
      if ((seen.get(variant) ?? -1) >= change || change === 0) {
        change++;
        changedBytes = await changeGuest(bench, vm.name, dataBytes);
      }
      seen.set(variant, change);
      return changedBytes;
    };
    const names = {
      checkpoint: 'kvm-clone sync --checkpoint, running VM, 1% changed (verify on)',
      hash: 'kvm-clone sync (block hashes), running VM, 1% changed (verify on)',
      rsync: 'rsync --inplace --no-whole-file host-to-host, 1% changed',
      checkpointUnchanged: 'kvm-clone sync --checkpoint, running VM, unchanged (verify on)',
      rsyncUnchanged: 'rsync --inplace --no-whole-file host-to-host, unchanged',
    };
    const changedRows = await measureAll(bench, this.id, [
      {
        name: names.checkpoint,
        kind: 'kvm-clone',
        measure: async () => measureSync(bench, checkpointSetup, await changed(names.checkpoint), checkpointInput),
      },
      {
        name: names.hash,
        kind: 'kvm-clone',
        measure: async () => measureSync(bench, hashSetup, await changed(names.hash), hashInput),
      },
      {
        name: names.rsync,
        kind: 'baseline',
        ...noTrust,
        measure: async () => measureRsync(bench, rsyncSetup, await changed(names.rsync)),
      },
    ] satisfies Variant[]);
    const unchangedRows = await measureAll(bench, this.id, [
      {
        name: names.checkpointUnchanged,
        kind: 'kvm-clone',
        measure: () => measureSync(bench, checkpointSetup, 0, checkpointInput),
      },
      { name: names.rsyncUnchanged, kind: 'baseline', ...noTrust, measure: () => measureRsync(bench, rsyncSetup, 0) },
    ]);
    const rows = new Map([...changedRows, ...unchangedRows]);
    const row = (name: string) => rows.get(name)!;
    const target = 'time ≤ 0.5× rsync (≥ 2× its speed)';
    judge(row(names.checkpoint), row(names.rsync), { min: 2, text: target });
    judge(row(names.hash), row(names.rsync), { min: 2, text: target });
    judge(row(names.checkpointUnchanged), row(names.rsyncUnchanged), { min: 2, text: target });

    const describeSync = (name: string) => {
      const samples = row(name).samples;
      const tracking = [
        ...new Set(samples.map((s) => (s as { sync?: { changeTracking: string } }).sync?.changeTracking)),
      ].join('/');
      return `change tracking ${tracking}; compared ${mb(medianOf(samples, (s) => s.sync?.bytesCompared))} MB, sent ${mb(medianOf(samples, (s) => s.sync?.bytesTransferred))} MB of ${mb(medianOf(samples, (s) => s.changedBytes))} MB changed; verifyFile ${(medianOf(samples, (s) => s.sync?.verifyFileSeconds) ?? 0).toFixed(1)} s of it`;
    };
    for (const name of [names.checkpoint, names.hash, names.checkpointUnchanged])
      row(name).note = [row(name).note, describeSync(name)].filter(Boolean).join('; ');
    row(names.rsync).note ??=
      `one qcow2 disk of ${formatSize(vm.apparentBytes)} (${(dataBytes / MB).toFixed(0)} MB random guest data), the VM running`;
    return [...rows.values()];
  },
};
