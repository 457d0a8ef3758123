import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { ErrorCode } from '../../../src/errors';
import { remoteBlockHashes } from '../../../src/hosts/block-hashes';
import { digestCommand, remoteSha256 } from '../../../src/hosts/remote-digest';
import { RemoteDisk } from '../../../src/hosts/remote-disk';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { scanBlockDevice } from '../../../src/hosts/zero-scan';
import { Lab } from '../../helpers/lab';
import {
  attachLoopDevice,
  detachLoopDevices,
  loopDevicesUnavailable,
  type LoopDevice,
} from '../../helpers/loop-device';

const lab = new Lab(inject('labFile'));
const MiB = 1024 * 1024;
const size = 256 * MiB;
const unavailable = loopDevicesUnavailable();
let dir: string;
let loop: LoopDevice;
let session: SshSession;
let disk: RemoteDisk;

/** What the device holds: a marker at 0, 3 MiB of random data at 100 MiB, 100 bytes at 200 MiB + 5, zeros elsewhere. */
const writes: { at: number; bytes: Buffer }[] = [
  { at: 0, bytes: Buffer.from('KVMCLONE-BLOCK-MARKER') },
  { at: 100 * MiB, bytes: randomBytes(3 * MiB) },
  { at: 200 * MiB + 5, bytes: randomBytes(100) },
];

beforeAll(async () => {
  if (unavailable) return;
  dir = await mkdtemp(path.join(lab.scratchDir('a'), 'block-device-'));
  loop = await attachLoopDevice(path.join(dir, 'device.img'), size, lab.host('a').user);
  const handle = await open(loop.device, 'r+');
  try {
    for (const { at, bytes } of writes) await handle.write(bytes, 0, bytes.length, at);
    await handle.sync();
  } finally {
    await handle.close();
  }
  session = await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
  disk = new RemoteDisk(session);
}, 60_000);

afterAll(async () => {
  session?.close();
  if (loop) await detachLoopDevices(loop.backingFile);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** SHA-256 of the device's bytes, built from what the test wrote. */
function expectedSha256(): string {
  const bytes = Buffer.alloc(size);
  for (const { at, bytes: data } of writes) data.copy(bytes, at);
  return createHash('sha256').update(bytes).digest('hex');
}

describe.skipIf(unavailable)('a block device on a lab host', () => {
  it("has the device's size, not stat's 0, and reads as a block device", async () => {
    expect(await disk.fileSize(loop.device)).toBe(size);
    expect(await disk.isBlockDevice(loop.device)).toBe(true);
    expect(await disk.isBlockDevice(loop.backingFile)).toBe(false);
  });

  it.each(['python3', 'perl'] as const)('is scanned for data with %s, at 64 KiB grain', async (tool) => {
    expect(await scanBlockDevice(session, loop.device, { start: 0, length: size }, tool)).toEqual([
      { start: 0, length: 64 * 1024 },
      { start: 100 * MiB, length: 3 * MiB },
      { start: 200 * MiB, length: 64 * 1024 },
    ]);
    // A range inside the device, and one whose end is past it (the device shrank): 1006.
    expect(await scanBlockDevice(session, loop.device, { start: 96 * MiB, length: 8 * MiB }, tool)).toEqual([
      { start: 100 * MiB, length: 3 * MiB },
    ]);
    await expect(
      scanBlockDevice(session, loop.device, { start: 192 * MiB, length: 128 * MiB }, tool),
    ).rejects.toMatchObject({
      code: ErrorCode.TRANSFER_ERROR,
      message: expect.stringContaining('did the device shrink'),
    });
  });

  it('is mapped by dataExtents through the scan, where qemu-img map would call it all data', async () => {
    expect(await disk.dataExtents(loop.device, { start: 0, length: size })).toEqual([
      { start: 0, length: 64 * 1024 },
      { start: 100 * MiB, length: 3 * MiB },
      { start: 200 * MiB, length: 64 * 1024 },
    ]);
    const map = JSON.parse(await session.run(sh`qemu-img map -U --output=json -f raw -- ${loop.device}`)) as {
      data: boolean;
      length: number;
    }[];
    expect(map).toEqual([expect.objectContaining({ data: true, length: size })]);
  });

  it.each(['python3', 'perl', 'coreutils'] as const)(
    'hashes whole with %s (no SEEK_DATA, size by seeking)',
    async (tool) => {
      const output = await session.run(digestCommand(tool, loop.device, undefined), { timeoutMs: 120_000 });
      expect(output.trim().split(/\s+/)[0]).toBe(expectedSha256());
    },
  );

  it('gives its block hashes from its data, not as one long hole', async () => {
    const block = 64 * 1024;
    const extents = [{ start: 100 * MiB - block, length: 3 * block }];
    for (const tool of ['python3', 'perl'] as const) {
      const hashes = await remoteBlockHashes(session, tool, loop.device, extents, block);
      expect(hashes[0]).toBe('0');
      expect(hashes[1]).toMatch(/^[0-9a-f]{8,16}$/);
      expect(hashes[2]).toMatch(/^[0-9a-f]{8,16}$/);
      expect(hashes[1]).not.toBe(hashes[2]);
    }
    // Past the device's end: '-', as for a file.
    expect(await remoteBlockHashes(session, 'python3', loop.device, [{ start: size, length: block }], block)).toEqual([
      '-',
    ]);
    expect((await remoteSha256(session, loop.device)).hex).toBe(expectedSha256());
  });
});
