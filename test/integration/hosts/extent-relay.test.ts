import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { CompressionCodec } from '../../../src/domain/compression';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { joinShell, sh, type ShellFragment } from '../../../src/domain/shell-quote';
import { MiB, totalLength, type Extent } from '../../../src/domain/transfer-plan';
import { ErrorCode } from '../../../src/errors';
import { relayExtents, type RelayOptions } from '../../../src/hosts/extent-relay';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { Lab } from '../../helpers/lab';
import { dataLayout, sha256OfFile, sparseTestExtents, sparseTestFileSize } from '../../helpers/local-files';

const lab = new Lab(inject('labFile'));
const suffix = Math.random().toString(36).slice(2, 8);
const sourcePath = `${lab.host('a').storageDir}/relay-source-${suffix}.img`;
const destinationPath = (name: string) => `${lab.host('b').storageDir}/relay-${name}-${suffix}.img`;
const fileSize = sparseTestFileSize;
const extents = sparseTestExtents;
const codecs: CompressionCodec[] = ['none', 'zstd', 'lz4'];

let source: SshSession;
let destination: SshSession;
const destinations: string[] = [];

async function freshDestination(name: string): Promise<string> {
  const path = destinationPath(name);
  destinations.push(path);
  await destination.run(sh`rm -f ${path} && truncate -s ${fileSize} ${path}`);
  return path;
}

function relay(overrides: Partial<RelayOptions> & { destinationPath: string }) {
  return relayExtents({ source, destination, sourcePath, extents, ...overrides });
}

beforeAll(async () => {
  source = await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
  destination = await openSshSession(hostSpecSchema.parse(lab.hostSpec('b')));
  const [random, text, moreRandom, moreText] = extents as [Extent, Extent, Extent, Extent];
  const fill = (input: ShellFragment, extent: Extent) =>
    sh`${input} | head -c ${extent.length} | dd of=${sourcePath} bs=1M iflag=fullblock oflag=seek_bytes seek=${extent.start} conv=notrunc status=none`;
  await source.run(
    joinShell(
      [
        sh`rm -f ${sourcePath}`,
        sh`truncate -s ${fileSize} ${sourcePath}`,
        fill(sh`cat /dev/urandom`, random),
        fill(sh`yes kvm-clone-relay`, text),
        fill(sh`cat /dev/urandom`, moreRandom),
        fill(sh`seq 1 1000000000`, moreText),
      ],
      ' && ',
    ),
  );
  expect(await dataLayout(sourcePath)).toEqual(extents);
});

afterAll(async () => {
  await source?.run(sh`rm -f ${sourcePath}`);
  if (destinations.length > 0) await destination?.run(sh`rm -f ${destinations}`);
  source?.close();
  destination?.close();
});

describe('relaying extents between two lab hosts', () => {
  it.each(codecs)('copies data and keeps holes, compression %s', async (compression) => {
    const path = await freshDestination(compression);
    let reported = 0;
    const result = await relay({ destinationPath: path, compression, onBytes: (bytes) => (reported += bytes) });

    expect(await sha256OfFile(path)).toBe(await sha256OfFile(sourcePath));
    expect(await dataLayout(path)).toEqual(extents);
    expect(result.dataBytes).toBe(totalLength(extents));
    expect(reported).toBe(result.wireBytes);
    if (compression === 'none') expect(result.wireBytes).toBe(result.dataBytes);
    // 1.25 MiB is random; the 3 MiB of text shrink to almost nothing.
    else expect(result.wireBytes).toBeLessThan(2 * MiB);
  });

  it.each(codecs)(
    'fails with code 1006 when the source is shorter than the extents, compression %s',
    async (compression) => {
      const path = await freshDestination(`short-${compression}`);
      const pastTheEnd = [{ start: 22 * MiB, length: 4 * MiB }];
      await expect(relay({ destinationPath: path, compression, extents: pastTheEnd })).rejects.toMatchObject({
        code: ErrorCode.TRANSFER_ERROR,
        message:
          compression === 'none'
            ? expect.stringContaining('were expected')
            : expect.stringContaining('did not hold exactly the 4194304 bytes'),
      });
    },
  );

  it.each(codecs)(
    'fails with code 1006, without hanging, when the destination cannot be written, compression %s',
    async (compression) => {
      const path = `${lab.host('b').storageDir}/no-such-dir-${suffix}/disk.img`;
      await expect(relay({ destinationPath: path, compression })).rejects.toMatchObject({
        code: ErrorCode.TRANSFER_ERROR,
        message: expect.stringMatching(/writing .* failed: .*No such file or directory/),
      });
    },
  );

  it('fails with 1102 naming the stream when sudo refuses it, on the destination and on the source', async () => {
    const refused = await openSshSession(hostSpecSchema.parse(lab.sudoSpec('limited')));
    try {
      const unwritten = `${lab.host('sys').storageDir}/relay-refused-${suffix}.img`;
      await expect(
        relayExtents({ source, destination: refused, sourcePath, extents, destinationPath: unwritten }),
      ).rejects.toMatchObject({
        code: ErrorCode.PERMISSION_DENIED,
        message: expect.stringContaining(`cannot run 'the write of ${unwritten}' as root through sudo`),
      });
      expect(existsSync(unwritten)).toBe(false);

      const path = await freshDestination('refused-source');
      const unread = `${lab.host('sys').storageDir}/relay-unread-${suffix}.img`;
      await expect(
        relayExtents({ source: refused, destination, sourcePath: unread, extents, destinationPath: path }),
      ).rejects.toMatchObject({
        code: ErrorCode.PERMISSION_DENIED,
        message: expect.stringContaining(`cannot run 'the read of ${unread}' as root through sudo`),
      });
      expect(await dataLayout(path)).toEqual([]);
    } finally {
      refused.close();
    }
  });

  it('stops, without copying, when cancelled while its channels open (no abort event reaches it then)', async () => {
    const path = await freshDestination('cancelled-while-opening');
    const controller = new AbortController();
    // The cancellation lands between the channels' opening and the relay's listening for it.
    const cancellingDestination = new Proxy(destination, {
      get(target, property) {
        if (property !== 'openExec') return Reflect.get(target, property, target) as unknown;
        return async (command: ShellFragment) => {
          const channel = await target.openExec(command);
          controller.abort(new Error('cancelled'));
          return channel;
        };
      },
    });
    // A slow stream would have run to its end, unheeding, before the fix.
    const relayed = relayExtents({
      source,
      destination: cancellingDestination,
      sourcePath,
      extents,
      destinationPath: path,
      signal: controller.signal,
      bytesPerSecond: 1 * MiB,
    });
    await expect(relayed).rejects.toThrow('cancelled');
    expect(await dataLayout(path)).not.toEqual(extents);
  });

  it.each(['none', 'zstd'] as const)(
    'copies a bandwidth-limited stream intact, compression %s',
    async (compression) => {
      const path = await freshDestination(`limited-${compression}`);
      const result = await relay({ destinationPath: path, compression, bytesPerSecond: 16 * MiB });
      expect(result.dataBytes).toBe(totalLength(extents));
      expect(await sha256OfFile(path)).toBe(await sha256OfFile(sourcePath));
      expect(await dataLayout(path)).toEqual(extents);
    },
  );
});
