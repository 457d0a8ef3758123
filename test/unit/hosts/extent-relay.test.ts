import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import {
  readCompressedExtentsCommand,
  readExtentsCommand,
  writeCompressedExtentsCommand,
  writeExtentsCommand,
  writeFailure,
} from '../../../src/hosts/extent-relay';

const extents = [
  { start: 0, length: 4096 },
  { start: 1_048_576, length: 8192 },
];
const path = "/images/it's a disk.img";

/** The script that `bash -c` runs, unquoted again. */
function bashScript(command: string): string {
  const match = /^bash -c '(.*)'$/s.exec(command);
  expect(match, command).not.toBeNull();
  return match![1]!.replace(/'\\''/g, "'");
}

describe('relay commands', () => {
  it('reads and writes each extent with its own dd, quoting the path', () => {
    expect(readExtentsCommand(path, extents).text).toBe(
      `dd if='/images/it'\\''s a disk.img' bs=4M iflag=skip_bytes,count_bytes skip=0 count=4096 status=none && ` +
        `dd if='/images/it'\\''s a disk.img' bs=4M iflag=skip_bytes,count_bytes skip=1048576 count=8192 status=none`,
    );
    expect(writeExtentsCommand(path, extents).text).toContain('oflag=seek_bytes seek=1048576 conv=notrunc');
  });

  it.each([
    ['zstd', 'zstd -1 -T0 -c -q', 'zstd -d -c -q'],
    ['lz4', 'lz4 -1 -c -q', 'lz4 -d -c -q'],
  ] as const)('with %s, compresses the extents and an end marker under pipefail', (codec, compress, decompress) => {
    const read = bashScript(readCompressedExtentsCommand(path, extents, codec).text);
    expect(read).toBe(
      `set -o pipefail; { ${readExtentsCommand(path, extents).text} && printf %s KVM-CLONE-END-OF-EXTENTS; } | ${compress}`,
    );

    const write = bashScript(writeCompressedExtentsCommand(path, extents, codec).text);
    expect(write.startsWith(`set -o pipefail; ${decompress} | { ${writeExtentsCommand(path, extents).text} && `)).toBe(
      true,
    );
    // Exactly the marker's 24 bytes must remain after the dd's took 12288.
    expect(write).toContain('[ "$(head -c 25 | wc -c)" -eq 24 ] || { echo');
    expect(write).toContain('exactly the 12288 bytes expected');
    expect(write).toMatch(/>&2; exit 1; }; }; }$/);
  });
});

describe('a failed destination write', () => {
  it('is 1204, not retryable, saying the destination is full, when the filesystem has no room', () => {
    for (const stderr of [
      "dd: error writing '/images/a.img': No space left on device",
      "dd: error writing '/images/a.img': Disk quota exceeded",
    ]) {
      const error = writeFailure('kvm@dst:22', '/images/a.img', stderr);
      expect(error).toMatchObject({ code: ErrorCode.DISK_SPACE_ERROR, retryable: false });
      expect(error.message).toBe(`kvm@dst:22: the destination is full: writing /images/a.img failed: ${stderr}`);
    }
  });

  it('is 1006, retryable, for any other failure', () => {
    const error = writeFailure('kvm@dst:22', '/images/a.img', 'exit 1');
    expect(error).toMatchObject({ code: ErrorCode.TRANSFER_ERROR, retryable: true });
    expect(error.message).toBe('kvm@dst:22: writing /images/a.img failed: exit 1');
  });
});
