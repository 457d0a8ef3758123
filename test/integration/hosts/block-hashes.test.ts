import { randomBytes } from 'node:crypto';
import { open, rm, truncate } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { remoteBlockHashes } from '../../../src/hosts/block-hashes';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { Lab } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
const KiB = 1024;
const block = 64 * KiB;
const file = `${lab.host('a').storageDir}/block-hashes-${process.pid}.img`;
let session: SshSession | undefined;

afterAll(async () => {
  session?.close();
  await rm(file, { force: true });
});

/** Blocks: data, hole, written zeros, data, then a short tail of data. */
async function makeFile(first: Buffer): Promise<void> {
  await truncate(file, 0).catch(() => undefined);
  const handle = await open(file, 'w');
  try {
    await handle.write(first, 0, block, 0);
    await handle.write(Buffer.alloc(block), 0, block, 2 * block);
    await handle.write(randomBytes(block), 0, block, 3 * block);
    await handle.write(randomBytes(100), 0, 100, 4 * block);
  } finally {
    await handle.close();
  }
  await lab.sshAs('a', `chmod 644 '${file}'`).catch(() => undefined);
}

describe.each(['python3', 'perl'] as const)('block hashes with %s on a lab host', (tool) => {
  it('marks holes and written zeros alike, past-the-end blocks apart, and changes with the data', async () => {
    session ??= await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
    const first = randomBytes(block);
    await makeFile(first);
    const range = { start: 0, length: 6 * block };
    const hashes = await remoteBlockHashes(session, tool, file, [range], block);
    expect(hashes).toHaveLength(6);
    expect(hashes[1]).toBe('0');
    expect(hashes[2]).toBe('0');
    expect(hashes[0]).toMatch(/^[0-9a-f]{8,16}$/);
    expect(hashes[3]).not.toBe(hashes[0]);
    expect(hashes[4]).toMatch(/^[0-9a-f]{8,16}$/);
    expect(hashes[5]).toBe('-');

    first[12345] = first[12345]! ^ 1;
    const handle = await open(file, 'r+');
    await handle.write(first, 0, block, 0);
    await handle.close();
    const again = await remoteBlockHashes(session, tool, file, [range], block);
    expect(again[0]).not.toBe(hashes[0]);
    expect(again.slice(1)).toEqual(hashes.slice(1));

    // Several extents in one call: each starts its own block, in the order given.
    const scattered = await remoteBlockHashes(
      session,
      tool,
      file,
      [
        { start: 4 * block, length: block },
        { start: block, length: 2 * block },
        { start: 0, length: block },
      ],
      block,
    );
    expect(scattered).toEqual([again[4], again[1], again[2], again[0]]);
  });
});
