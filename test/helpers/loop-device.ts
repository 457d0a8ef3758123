import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, stat } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Block devices for tests, on a machine without device-mapper (so no LVM): a loop device
 * over a sparse file, handed to a lab host's user the way udev hands an LV to libvirt's
 * qemu. Only the devices a test attached are ever detached, found by their backing file.
 */
export interface LoopDevice {
  /** `/dev/loopN`. */
  device: string;
  backingFile: string;
}

/**
 * Why block-device tests cannot run here, or undefined when they can (root, and a free loop
 * device). Synchronous, for `describe.skipIf` as a file is collected.
 */
export function loopDevicesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'loop devices need root';
  if (!existsSync('/dev/loop-control')) return 'this kernel has no loop devices (/dev/loop-control is missing)';
  try {
    execFileSync('losetup', ['--find'], { stdio: 'pipe' });
  } catch (error) {
    return `no free loop device: ${(error as Error).message}`;
  }
  return undefined;
}

/** Who owned each node this process handed to a lab user, to give it back on detach. */
const originalOwners = new Map<string, { uid: number; gid: number }>();

/**
 * A loop device over `backingFile`, created sparse at `size` bytes when missing, owned by
 * `owner` (a lab host's user, whose session libvirt then opens it). Direct I/O keeps the
 * loop from filling the page cache with the backing file's holes on every read.
 */
export async function attachLoopDevice(backingFile: string, size: number, owner: string): Promise<LoopDevice> {
  await run('truncate', ['-s', String(size), backingFile]);
  await run('chown', [`${owner}:`, backingFile]);
  const { stdout } = await run('losetup', ['--direct-io=on', '--find', '--show', backingFile]);
  const device = stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup printed ${JSON.stringify(stdout)}`);
  const node = await stat(device);
  originalOwners.set(device, { uid: node.uid, gid: node.gid });
  await run('chown', [`${owner}:`, device]);
  return { device, backingFile };
}

/**
 * Detaches every loop device over `backingFile` (and only those), and gives each node back
 * to its owner from before a test handed it to a lab user.
 */
export async function detachLoopDevices(backingFile: string): Promise<void> {
  const { stdout } = await run('losetup', ['--noheadings', '--output', 'NAME', '--associated', backingFile]).catch(
    () => ({ stdout: '' }),
  );
  for (const device of stdout.split('\n').map((line) => line.trim())) {
    if (!/^\/dev\/loop\d+$/.test(device)) continue;
    await run('losetup', ['--detach', device]);
    const owner = originalOwners.get(device);
    if (owner) await chown(device, owner.uid, owner.gid).catch(() => undefined);
    originalOwners.delete(device);
  }
}
