import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { guestWriterScript, waitForWriter } from '../../helpers/guest-writer';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';
import { sha256OfFile } from '../../helpers/local-files';

const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());
const MiB = 1024 * 1024;
const run = promisify(execFile);

/**
 * Overwrites `count` blocks of `blockSize` bytes spread evenly over the file (past its marker block) with random data.
 */
async function scribble(file: string, count: number, blockSize: number): Promise<void> {
  const size = (await stat(file)).size;
  const handle = await open(file, 'r+');
  try {
    for (let index = 0; index < count; index++) {
      const offset = blockSize + Math.floor((((size - blockSize) / count) * index) / blockSize) * blockSize;
      await handle.write(randomBytes(blockSize), 0, blockSize, offset);
    }
  } finally {
    await handle.close();
  }
}

/** A VM on host a and its clone on host b under the same name, the way a standby starts. */
async function standby(
  prefix: string,
  options: Parameters<Lab['makeVm']>[2] = {},
): Promise<{ vm: LabVm; copyOf: (target: string) => string }> {
  const name = uniqueVmName(prefix);
  const vm = await lab.makeVm('a', name, options);
  const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, newName: name });
  const paths = new Map(result.files.map((file) => [file.target, file.destinationPath]));
  return { vm, copyOf: (target) => paths.get(target)! };
}

describe('syncVM on the lab hosts', () => {
  it('sends about the 1% of blocks that changed, then almost nothing for an unchanged VM; the copy matches bit for bit', async () => {
    const { vm, copyOf } = await standby('sync', { dataSize: '1G', fillMib: 256 });
    await scribble(vm.dataPath, 164, 64 * 1024); // ~1% of 1 GiB

    const first = await testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name });

    expect(first).toMatchObject({
      success: true,
      targetName: vm.name,
      changeTracking: 'block-hash',
      hashTool: 'python3',
      detachedDisks: [],
    });
    const data = first.files.find((file) => file.target === 'vdb')!;
    expect(data.action).toBe('updated');
    // About the changed blocks cross the wire (a retried step may count a little less or more).
    expect(data.bytesTransferred).toBeGreaterThanOrEqual(0.5 * 164 * 64 * 1024);
    expect(data.bytesTransferred).toBeLessThan(2 * 164 * 64 * 1024);
    expect(data.blocksSynchronized).toBeGreaterThanOrEqual(82);
    expect(first.bytesCompared).toBeGreaterThanOrEqual(1024 * MiB);
    expect(await sha256OfFile(copyOf('vdb'))).toBe(await sha256OfFile(vm.dataPath));
    expect(await sha256OfFile(copyOf('vda'))).toBe(await sha256OfFile(vm.rootPath));

    const second = await testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name });
    expect(second.bytesTransferred).toBeLessThan(64 * 1024);
    expect(second.blocksSynchronized).toBe(0);

    // The target kept its identity and boots with the source's data.
    const target = parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', vm.name));
    expect(target.interfaces[0]!.mac).not.toBe(vm.mac);
    const guest = await lab.bootAndReadConsole('b', vm.name, `${lab.host('b').storageDir}/${vm.name}-console.log`);
    expect(guest).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
  });

  it('resizes a disk that grew, copies a disk that was added whole, and detaches one that was removed', async () => {
    const { vm, copyOf } = await standby('reshape');
    await truncate(vm.dataPath, 320 * MiB);
    await scribble(vm.dataPath, 4, MiB);
    const added = `${vm.dir}/extra.img`;
    await lab.sshAs(
      'a',
      `truncate -s 64M '${added}' && printf KVMCLONE-EXTRA | dd of='${added}' conv=notrunc status=none`,
    );
    await lab.attachRawDisk('a', vm.name, added, 'vdc');

    const grown = await testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name });

    expect(grown.files.map((file) => [file.target, file.action])).toEqual([
      ['vda', 'updated'],
      ['vdb', 'resized'],
      ['vdc', 'added'],
    ]);
    expect((await stat(copyOf('vdb'))).size).toBe(320 * MiB);
    expect(await sha256OfFile(copyOf('vdb'))).toBe(await sha256OfFile(vm.dataPath));
    const extraCopy = grown.files.find((file) => file.target === 'vdc')!.destinationPath;
    expect(await sha256OfFile(extraCopy)).toBe(await sha256OfFile(added));
    expect(
      parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', vm.name)).disks.map(
        (disk) => disk.sourcePath,
      ),
    ).toEqual([copyOf('vda'), copyOf('vdb'), extraCopy]);

    await lab.virsh('a', 'detach-disk', '--domain', vm.name, 'vdb', '--config');
    const shrunk = await testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name });
    expect(shrunk.detachedDisks).toEqual(['vdb']);
    expect(shrunk.warnings.join('\n')).toContain('disk vdb is gone from the source');
    expect(
      parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', vm.name)).disks.map(
        (disk) => disk.target,
      ),
    ).toEqual(['vda', 'vdc']);
    expect((await stat(copyOf('vdb'))).size).toBe(320 * MiB);
  });

  it('refuses with 1204 a disk added on the source that the target directory has no room for, and writes nothing', async () => {
    const name = uniqueVmName('syncfull');
    const vm = await lab.makeVm('a', name);
    const small = `${lab.scratchDir('b')}/small-${name}`;
    await mkdir(small, { recursive: true });
    // Room for the clone (the space check counts its data disk's apparent 256 MiB), not for 330 MiB more.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=320m,mode=0777', 'tmpfs', small]);
    try {
      const clone = await testEnvironment().client.clone({
        source: 'a',
        destination: 'b',
        vmName: name,
        newName: name,
        destDir: small,
      });
      const added = `${vm.dir}/big.img`;
      await lab.sshAs('a', `head -c ${330 * MiB} /dev/urandom > '${added}'`);
      await lab.attachRawDisk('a', name, added, 'vdc');
      const before = await Promise.all(clone.files.map((file) => sha256OfFile(file.destinationPath)));

      await expect(
        testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: name }),
      ).rejects.toMatchObject({
        code: ErrorCode.DISK_SPACE_ERROR,
        message: expect.stringContaining('the disks added on the source need'),
      });
      expect(await Promise.all(clone.files.map((file) => sha256OfFile(file.destinationPath)))).toEqual(before);
      expect(
        parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', name)).disks.map(
          (disk) => disk.target,
        ),
      ).toEqual(['vda', 'vdb']);
    } finally {
      await lab.virsh('b', 'undefine', '--domain', name).catch(() => undefined);
      await lab.removeVm('a', vm);
      await run('umount', [small]);
      await rm(small, { recursive: true, force: true });
    }
  });

  it('refuses a running target with 1201 and touches nothing', async () => {
    const { vm, copyOf } = await standby('busy', { runScript: guestWriterScript });
    await lab.virsh('b', 'start', '--domain', vm.name);
    try {
      const before = await sha256OfFile(copyOf('vda'));
      await expect(
        testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name }),
      ).rejects.toMatchObject({
        code: ErrorCode.SYNC_ERROR,
        message: expect.stringContaining('is running'),
      });
      expect(await sha256OfFile(copyOf('vda'))).toBe(before);
      expect(await lab.virsh('b', 'desc', '--domain', vm.name, '--title')).not.toContain('incomplete');
    } finally {
      await lab.virsh('b', 'destroy', '--domain', vm.name);
    }
  });

  it('syncs from a running source through a snapshot and merges it back', async () => {
    const { vm, copyOf } = await standby('livesync', { runScript: guestWriterScript });
    await lab.virsh('a', 'start', '--domain', vm.name);
    await waitForWriter(`${vm.dir}/console.log`);
    try {
      const result = await testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name });
      expect(result.consistency).toBe('crash-consistent');
      expect(result.blocksSynchronized).toBeGreaterThan(0);
      for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
      const live = parseDomainXml(await lab.virsh('a', 'dumpxml', '--domain', vm.name));
      expect(live.disks.map((disk) => disk.sourcePath)).toEqual([vm.rootPath, vm.dataPath]);
      expect(copyOf('vdb')).toBe(result.files[1]!.destinationPath);
    } finally {
      await lab.virsh('a', 'destroy', '--domain', vm.name);
    }
  });

  it('a missing target is 1003', async () => {
    const name = uniqueVmName('notarget');
    await lab.makeVm('a', name);
    await expect(testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: name })).rejects.toMatchObject({
      code: ErrorCode.VM_NOT_FOUND_ERROR,
    });
  });
});
