import { ErrorCode } from '../errors';
import { joinShell, sh, type ShellFragment } from '../domain/shell-quote';
import type { Extent } from '../domain/transfer-plan';
import type { FileDigest } from '../domain/clone-result';
import { pythonReader } from './python-reader';
import { remoteTools } from './remote-tools';
import type { SshSession } from './ssh-session';

/*
 * SHA-256 of byte ranges of a file (the whole file for `0 -1`), in the order given, as
 * one stream, from the file on the host. Holes are fed to the hash as zeros
 * without being read (SEEK_DATA/SEEK_HOLE), so a sparse disk hashes at CPU speed. A block
 * device has no SEEK_DATA: it is read whole, with direct I/O (python-reader.ts). Sizes come
 * from seeking to the end, since stat gives a device's as 0.
 * python's hashlib uses OpenSSL (SHA-NI): ~1.2 GB/s against ~0.2 GB/s for sha256sum.
 */
const pythonSha256 = String.raw`${pythonReader}
import errno, hashlib, sys
path, ranges = sys.argv[1], [int(arg) for arg in sys.argv[2:]]
fd, read = open_reader(path, 1 << 22)
size = os.lseek(fd, 0, os.SEEK_END)
digest = hashlib.sha256()
zeros = memoryview(bytes(1 << 22))
def seek(whence):
    try:
        return min(os.lseek(fd, pos, whence), end)
    except OSError as error:
        # ENXIO: no data past pos. EINVAL: no SEEK_DATA at all (a block device), so all of it is data.
        if error.errno != errno.ENXIO and whence == os.SEEK_DATA:
            return pos
        return end
for start, length in zip(ranges[0::2], ranges[1::2]):
    end = size if length < 0 else min(size, start + length)
    pos = start
    while pos < end:
        data = seek(os.SEEK_DATA)
        while pos < data:
            n = min(len(zeros), data - pos)
            digest.update(zeros[:n])
            pos += n
        hole = seek(os.SEEK_HOLE) if pos < end else end
        while pos < hole:
            chunk = read(pos, min(1 << 22, hole - pos))
            if not chunk:
                sys.exit("short read at %d" % pos)
            digest.update(chunk)
            pos += len(chunk)
print(digest.hexdigest())
`;

const perlSha256 = String.raw`
use strict; use Digest::SHA;
my ($path, @ranges) = @ARGV;
open(my $fh, '<:raw', $path) or die "$path: $!";
my $size = sysseek($fh, 0, 2);
die "seek: $!" unless defined $size;
$size += 0;
my $sha = Digest::SHA->new(256);
while (my ($start, $length) = splice(@ranges, 0, 2)) {
  my $end = $length < 0 ? $size : ($start + $length < $size ? $start + $length : $size);
  next if $end <= $start;
  sysseek($fh, $start, 0) or die "seek: $!";
  my $left = $end - $start;
  while ($left > 0) {
    my $want = $left < 4194304 ? $left : 4194304;
    my $got = sysread($fh, my $buf, $want);
    die "short read" unless $got;
    $sha->add($buf);
    $left -= $got;
  }
}
print $sha->hexdigest, "\n";
`;

/** The remote command that prints the SHA-256 with `tool`: exported so each tool is testable on one host. */
export function digestCommand(
  tool: FileDigest['tool'],
  path: string,
  extents: readonly Extent[] | undefined,
): ShellFragment {
  const ranges = extents ? extents.flatMap((extent) => [extent.start, extent.length]) : [0, -1];
  switch (tool) {
    // python stops reading options at -c's script; perl does not, so '--' keeps a path
    // starting with '-' from being read as a perl switch (-i would edit files in place).
    case 'python3':
      return sh`python3 -c ${pythonSha256} ${path} ${ranges}`;
    case 'perl':
      return sh`perl -e ${perlSha256} -- ${path} ${ranges}`;
    case 'coreutils':
      if (!extents) return sh`sha256sum < ${path}`;
      return sh`{ ${joinShell(
        extents.map((extent) => sh`tail -c +${extent.start + 1} -- ${path} | head -c ${extent.length};`),
        ' ',
      )} } | sha256sum`;
  }
}

/** SHA-256 of a file, or of some ranges of it taken as one stream, computed on the host that holds it. */
export async function remoteSha256(
  session: SshSession,
  path: string,
  extents?: readonly Extent[],
): Promise<FileDigest> {
  const tools = await remoteTools(session);
  const tool: FileDigest['tool'] = tools.python3 ? 'python3' : tools.perl ? 'perl' : 'coreutils';
  const output = await session.run(digestCommand(tool, path, extents), {
    what: `hashing ${path}`,
    failureCode: ErrorCode.TRANSFER_ERROR,
    // A whole disk takes as long as it takes: the verify activities heartbeat meanwhile.
    timeoutMs: Infinity,
  });
  return { algorithm: 'sha256', hex: output.trim().split(/\s+/)[0] ?? '', tool };
}
