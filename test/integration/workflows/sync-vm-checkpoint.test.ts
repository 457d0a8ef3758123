import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, stat, utimes } from 'node:fs/promises';
import { describe, expect, inject, it } from 'vitest';
import { checkpointPrefix } from '../../../src/domain/change-tracking';
import { guestWriterScript, waitForWriter } from '../../helpers/guest-writer';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { sha256OfFile } from '../../helpers/local-files';
import { useTestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());
const MiB = 1024 * 1024;

/** A guest write to the running VM's root disk, through qemu's block layer, as the guest would make it. */
async function guestWrite(vmName: string, pattern: number, offset: number, length: number): Promise<void> {
  const output = await lab.virsh(
    'a',
    'qemu-monitor-command',
    '--domain',
    vmName,
    '--hmp',
    `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P ${pattern} ${offset} ${length}"`,
  );
  expect(output).not.toMatch(/error|failed/i);
}

/** Whether the qcow2 image holds `pattern` over the guest range, read by qemu on the host. */
function holdsPattern(imagePath: string, pattern: number, offset: number, length: number): boolean {
  const output = execFileSync(
    'qemu-io',
    ['-U', '-r', '-f', 'qcow2', '-c', `read -P ${pattern} ${offset} ${length}`, imagePath],
    { encoding: 'utf8' },
  );
  return !/Pattern verification failed/.test(output);
}

/** qemu-img compare: the guest-visible contents of two images, byte for byte, whatever their layouts. */
function guestContentsEqual(sourceImage: string, copy: string): boolean {
  try {
    execFileSync('qemu-img', ['compare', '-U', '-f', 'qcow2', '-F', 'qcow2', sourceImage, copy], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    return true;
  } catch {
    return false;
  }
}

async function checkpointNames(vmName: string): Promise<string[]> {
  return (await lab.virsh('a', 'checkpoint-list', '--domain', vmName, '--name'))
    .split('\n')
    .filter((line) => line.trim().length > 0);
}

describe('syncVM with checkpoints on the lab hosts', () => {
  it('leaves a checkpoint, then sends only what its bitmap saw written; falls back to hashing where it cannot vouch', async () => {
    const name = uniqueVmName('cpsync');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript, rootSize: '256M' });
    const clone = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, newName: name });
    const copyOf = (target: string) => clone.files.find((file) => file.target === target)!.destinationPath;
    const sync = (fullVerify = false) =>
      testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: name, checkpoint: true, fullVerify });
    await lab.virsh('a', 'start', '--domain', name);
    await waitForWriter(`${vm.dir}/console.log`);
    try {
      // Guest data past the root filesystem, so the image is mostly data, as a real one is.
      await guestWrite(name, 0x11, 64 * MiB, 32 * MiB);
      // First sync: nothing recorded yet, so it hashes, and leaves a checkpoint for the next one.
      const first = await sync();
      expect(first.changeTracking).toBe('block-hash');
      expect(first.warnings.join('\n')).toContain('no checkpoint from an earlier sync');
      expect(first.warnings.join('\n')).toContain('disk vdb is raw');
      expect(first.checkpoint).toMatch(
        new RegExp(`^${checkpointPrefix((await lab.virsh('b', 'domuuid', '--domain', name)).trim())}`),
      );
      expect(await checkpointNames(name)).toEqual([first.checkpoint]);

      // The guest writes 1 MiB of its root disk; the bitmap sees it.
      await guestWrite(name, 0x5a, 128 * MiB, MiB);
      // Paused (qemu still runs, so the bitmaps answer), the guest's own ext4 cannot write meanwhile and the source stays comparable.
      await lab.virsh('a', 'suspend', '--domain', name);
      const second = await sync();
      const root = second.files.find((file) => file.target === 'vda')!;
      const data = second.files.find((file) => file.target === 'vdb')!;
      expect(second.changeTracking).toBe('checkpoint');
      expect(root.changeTracking).toBe('checkpoint');
      expect(data.changeTracking).toBe('block-hash');
      // Only qcow2 metadata is compared; the written clusters are sent without comparing.
      const rootFileSize = (await stat(copyOf('vda'))).size;
      expect(first.files.find((file) => file.target === 'vda')!.bytesCompared).toBeGreaterThanOrEqual(32 * MiB);
      expect(root.bytesCompared).toBeLessThan(0.1 * rootFileSize);
      expect(root.bytesUnchanged).toBeGreaterThan(0.8 * rootFileSize);
      expect(root.bytesTransferred).toBeGreaterThanOrEqual(MiB);
      expect(root.bytesTransferred).toBeLessThan(3 * MiB);
      // Checked with SHA-256 where it wrote or compared; the guest-visible disks are equal all over.
      expect(root.verification).toBe('synced-ranges');
      expect(root.digest).toBeUndefined();
      expect(holdsPattern(copyOf('vda'), 0x5a, 128 * MiB, MiB)).toBe(true);
      expect(guestContentsEqual(vm.rootPath, copyOf('vda'))).toBe(true);
      await lab.virsh('a', 'resume', '--domain', name);
      // The spent checkpoint is gone; the new one is the only one this target has.
      expect(second.checkpoint).not.toBe(first.checkpoint);
      expect(await checkpointNames(name)).toEqual([second.checkpoint]);

      // A write the bitmap cannot see (straight into the image file) is caught by fullVerify's whole-file digest, and the tiles that differ are copied again.
      const map = JSON.parse(
        execFileSync('qemu-img', ['map', '-U', '--output=json', '-f', 'qcow2', vm.rootPath], { encoding: 'utf8' }),
      ) as { offset?: number; depth: number; length: number }[];
      const cluster = map.find(
        (entry) => entry.depth === 0 && entry.offset !== undefined && entry.length >= 64 * 1024,
      )!;
      const image = await open(vm.rootPath, 'r+');
      await image.write(randomBytes(4096), 0, 4096, cluster.offset! + 8192);
      await image.close();
      await guestWrite(name, 0x6b, 160 * MiB, 64 * 1024);
      const third = await sync(true);
      const repaired = third.files.find((file) => file.target === 'vda')!;
      expect(third.warnings.join('\n')).toContain('still differed from its source after the sync');
      expect(third.rangesRecopied).toBeGreaterThanOrEqual(1);
      expect(repaired.changeTracking).toBe('checkpoint');
      expect(repaired.verification).toBe('file');
      expect(repaired.digest?.destination).toBe(repaired.digest?.source);
      expect(await sha256OfFile(copyOf('vda'))).toBe(repaired.digest?.source);
      expect(holdsPattern(copyOf('vda'), 0x6b, 160 * MiB, 64 * 1024)).toBe(true);

      // A destination file touched since the last sync is not vouched for by the bitmap.
      const now = new Date();
      await utimes(copyOf('vda'), now, now);
      const fourth = await sync();
      expect(fourth.warnings.join('\n')).toContain('changed on the destination since the last sync');
      expect(fourth.files.find((file) => file.target === 'vda')!.changeTracking).toBe('block-hash');
      expect(await checkpointNames(name)).toEqual([fourth.checkpoint]);
    } finally {
      await lab.virsh('a', 'destroy', '--domain', name);
    }

    // A shut-off source has no running qemu to keep a bitmap: hashing, and no new checkpoint.
    const offline = await sync();
    expect(offline.warnings.join('\n')).toContain('checkpoints track a running source');
    expect(offline.changeTracking).toBe('block-hash');
    expect(offline.checkpoint).toBeUndefined();
  });
});
