import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readdir, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { guestWriterScript, lastWriterRecord, waitForWriter, writeStopFlag } from '../../helpers/guest-writer';
import { Lab, uniqueVmName, type LabVm, type MakeVmOptions } from '../../helpers/lab';
import {
  attachLoopDevice,
  detachLoopDevices,
  loopDevicesUnavailable,
  type LoopDevice,
} from '../../helpers/loop-device';
import { useTestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());
const run = promisify(execFile);
const unavailable = loopDevicesUnavailable();
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Everything the tests made, removed at the end: VMs on both hosts, then the loop devices under them. */
const made: { vm: LabVm; loop?: LoopDevice; clones: string[] }[] = [];

afterAll(async () => {
  for (const { vm, loop, clones } of made) {
    for (const clone of clones) {
      await lab.virsh('b', 'destroy', '--domain', clone).catch(() => undefined);
      await lab.virsh('b', 'undefine', '--domain', clone).catch(() => undefined);
      const dir = lab.host('b').storageDir;
      for (const file of (await readdir(dir)).filter((name) => name.startsWith(`${clone}-`)))
        await rm(`${dir}/${file}`, { force: true });
    }
    await lab.virsh('a', 'destroy', '--domain', vm.name).catch(() => undefined);
    if (loop) await detachLoopDevices(loop.backingFile);
    await lab.removeVm('a', vm);
  }
}, 120_000);

/** Writes `bytes` at `offset` of a device (or file), through its node, and flushes them to it. */
async function writeAt(path: string, offset: number, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A lab VM whose data disk vdb is a block device: a loop device of `size` bytes over a
 * sparse file in the VM's directory, owned by host a's user, with the VM's data marker at
 * offset 0 (the guest prints it) and `extra` writes.
 */
async function blockVm(
  prefix: string,
  size: number,
  extra: { at: number; bytes: Buffer }[] = [],
  options: MakeVmOptions = {},
): Promise<{ vm: LabVm; loop: LoopDevice; clones: string[] }> {
  const vm = await lab.makeVm('a', uniqueVmName(prefix), options);
  const entry: { vm: LabVm; loop?: LoopDevice; clones: string[] } = { vm, clones: [] };
  made.push(entry);
  const loop = await attachLoopDevice(`${vm.dir}/block-vdb.img`, size, lab.host('a').user);
  entry.loop = loop;
  for (const { at, bytes } of [{ at: 0, bytes: Buffer.from(vm.dataMarker) }, ...extra])
    await writeAt(loop.device, at, bytes);
  await lab.virsh('a', 'detach-disk', '--domain', vm.name, 'vdb', '--config');
  await lab.virsh(
    'a',
    'attach-disk',
    '--domain',
    vm.name,
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
  return { vm, loop, clones: entry.clones };
}

/**
 * Whether two sparse files on this machine hold the same bytes: the same size, and the same
 * bytes wherever either has data (both read as zeros elsewhere). Reading 8 GiB of holes whole
 * would take long and fill the page cache for nothing.
 */
async function sameBytes(a: string, b: string): Promise<string> {
  const script = String.raw`
import os, sys
def data(fd, size):
    out, pos = [], 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        out.append((start, end))
        pos = end
    return out
fa, fb = os.open(sys.argv[1], os.O_RDONLY), os.open(sys.argv[2], os.O_RDONLY)
sa, sb = os.fstat(fa).st_size, os.fstat(fb).st_size
if sa != sb:
    sys.exit('sizes differ: %d and %d' % (sa, sb))
for start, end in sorted(data(fa, sa) + data(fb, sb)):
    pos = start
    while pos < end:
        n = min(1 << 22, end - pos)
        if os.pread(fa, n, pos) != os.pread(fb, n, pos):
            sys.exit('bytes differ near %d' % pos)
        pos += n
print('same')
`;
  const { stdout } = await run('python3', ['-c', script, a, b]).catch((error: { stderr?: string }) => ({
    stdout: error.stderr ?? String(error),
  }));
  return stdout.trim();
}

describe.skipIf(unavailable)('a block-device disk (a loop device standing in for an LVM volume)', () => {
  it('is cloned into a sparse raw file that matches it bit for bit, sending under 1 % of 8 GiB; a sync then sends what changed', async () => {
    const size = 8 * GiB;
    const { vm, loop, clones } = await blockVm('blk', size, [
      { at: 3 * GiB, bytes: randomBytes(MiB) },
      { at: 5 * GiB + 12345, bytes: Buffer.from('KVMCLONE-DEEP-MARKER') },
    ]);
    clones.push(vm.name);

    const clone = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      newName: vm.name,
    });

    const copy = clone.files.find((file) => file.target === 'vdb')!;
    expect(copy).toMatchObject({ sourcePath: loop.device, format: 'raw', fileSize: size });
    expect(copy.destinationPath).toBe(`${lab.host('b').storageDir}/${vm.name}-vdb.raw`);
    expect(copy.digest?.source).toBe(copy.digest?.destination);
    // The marker grain, 1 MiB of data and the deep marker's grain: 1.1 MiB of 8 GiB.
    expect(copy.bytesTransferred).toBeLessThan(0.01 * size);
    expect(copy.bytesTransferred).toBeLessThan(2 * MiB);
    expect(copy.bytesSkippedAsHoles).toBeGreaterThan(size - 2 * MiB);
    expect((await stat(copy.destinationPath)).size).toBe(size);
    expect((await stat(copy.destinationPath)).blocks * 512).toBeLessThan(8 * MiB);
    expect(await sameBytes(loop.backingFile, copy.destinationPath)).toBe('same');
    const disk = parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', vm.name)).disks.find(
      (each) => each.target === 'vdb',
    );
    expect(disk).toMatchObject({ type: 'file', format: 'raw', sourcePath: copy.destinationPath });
    console.info(
      `block clone: ${copy.bytesTransferred} bytes sent for ${size} (${((100 * copy.bytesTransferred) / size).toFixed(3)} %), ${clone.durationSeconds} s`,
    );

    // The source changes on its device: new data at 6 GiB, the 3 GiB data zeroed.
    await writeAt(loop.device, 6 * GiB, randomBytes(MiB));
    await writeAt(loop.device, 3 * GiB, Buffer.alloc(MiB));
    const sync = await testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name });

    expect(sync).toMatchObject({ success: true, changeTracking: 'block-hash' });
    const synced = sync.files.find((file) => file.target === 'vdb')!;
    expect(synced).toMatchObject({ action: 'updated', destinationPath: copy.destinationPath });
    expect(synced.bytesTransferred).toBeGreaterThanOrEqual(MiB);
    expect(synced.bytesTransferred).toBeLessThan(2 * MiB);
    expect(await sameBytes(loop.backingFile, copy.destinationPath)).toBe('same');
    console.info(`block sync: ${synced.bytesTransferred} bytes sent, ${sync.durationSeconds} s`);

    // The target boots on its file and reads the source's data marker.
    const guest = await lab.bootAndReadConsole('b', vm.name, `${lab.host('b').storageDir}/${vm.name}-console.log`);
    expect(guest).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
  });

  it("is cloned live: the overlay goes to the source's storage directory, not /dev, and merges back into the device", async () => {
    const { vm, loop, clones } = await blockVm('blklive', GiB, [], { runScript: guestWriterScript });
    clones.push(`${vm.name}_clone`);
    const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name);
    await lab.virsh('a', 'start', '--domain', vm.name);
    await waitForWriter(`${vm.dir}/console.log`);
    try {
      const clone = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: vm.name });

      expect(clone).toMatchObject({ success: true, consistency: 'crash-consistent' });
      for (const file of clone.files) expect(file.digest?.source).toBe(file.digest?.destination);
      expect(await lab.domainState('a', vm.name)).toBe('running');
      const live = parseDomainXml(await lab.virsh('a', 'dumpxml', '--domain', vm.name));
      expect(live.disks.map((disk) => [disk.type, disk.sourcePath])).toEqual(
        parseDomainXml(originalXml).disks.map((disk) => [disk.type, disk.sourcePath]),
      );
      expect((await readdir(lab.host('a').storageDir)).filter((file) => file.endsWith('.overlay'))).toEqual([]);

      // Writes made after the snapshot went to the overlay, and from it into the device.
      const copied = clone.files.find((file) => file.target === 'vdb')!.destinationPath;
      const recordsInCopy = await lastWriterRecord(copied);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await lab.virsh('a', 'destroy', '--domain', vm.name);
      expect(await lastWriterRecord(loop.device)).toBeGreaterThan(recordsInCopy);
      await writeStopFlag(copied);
    } finally {
      if ((await lab.domainState('a', vm.name)) === 'running') await lab.virsh('a', 'destroy', '--domain', vm.name);
    }
  });
});

describe('a network disk', () => {
  it('is still refused with 1200, naming the disk, before anything is copied', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('nbd'));
    made.push({ vm, clones: [] });
    await lab.sshAs(
      'a',
      `virsh -q -c ${lab.host('a').libvirtUri} attach-device --domain ${vm.name} --config --file /dev/stdin`,
      `<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='export'><host name='127.0.0.1' port='10809'/></source><target dev='vdc' bus='virtio'/></disk>`,
    );

    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: vm.name }),
    ).rejects.toMatchObject({ code: ErrorCode.CLONE_ERROR, message: expect.stringContaining('vdc (type network)') });
    expect((await readdir(lab.host('b').storageDir)).filter((file) => file.startsWith(vm.name))).toEqual([]);
  });
});
