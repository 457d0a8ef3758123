import { ErrorCode } from '../errors';
import { sh } from '../domain/shell-quote';
import type { BlockHashTool } from '../domain/block-delta';
import type { Extent } from '../domain/transfer-plan';
import { pythonReader } from './python-reader';
import type { SshSession } from './ssh-session';

/*
 * One hash per block of a list of extents (read from stdin as `start length` lines), one
 * line each, from a single process per call (never a process per block). A block that is a hole or all zeros prints `0`, so a hole on one
 * host and written zeros on the other compare equal. Blocks past the end of the file
 * (of a block device: past its size, which stat does not give) print `-`. CRC-32 finds differences at ~3.9 GB/s in python on this kind of machine;
 * the strong digest of each range afterwards catches what a 32-bit hash could miss.
 */
const pythonBlockHashes = String.raw`${pythonReader}
import errno, sys, zlib
path, block = sys.argv[1], int(sys.argv[2])
span = max(block, 4 << 20)
fd, read_at = open_reader(path, span)
size = os.lseek(fd, 0, os.SEEK_END)
zero = bytes(block)
ahead, ahead_at = b'', 0
def read(pos, n, limit):
    # One read for a run of data blocks, up to 4 MiB: a block device has no holes to skip,
    # and reading it 64 KiB at a time runs it at a fraction of its sequential speed.
    global ahead, ahead_at
    if not (ahead_at <= pos and pos + n <= ahead_at + len(ahead)):
        ahead, ahead_at = read_at(pos, max(n, min(span, limit - pos))), pos
    return ahead[pos - ahead_at:pos - ahead_at + n]
out = []
for line in sys.stdin:
    if not line.strip():
        continue
    start, length = map(int, line.split())
    end = start + length
    pos = start
    data = hole = -1
    while pos < end:
        n = min(block, end - pos)
        if pos >= size:
            out.append('-')
            pos += n
            continue
        if pos >= hole:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
                hole = os.lseek(fd, data, os.SEEK_HOLE)
            except OSError as error:
                # ENXIO: no data past pos. EINVAL: no SEEK_DATA at all (a block device), so all of it is data.
                if error.errno == errno.ENXIO:
                    data = hole = size + 1
                else:
                    data, hole = pos, size
        if data >= pos + n:
            out.append('0')
        else:
            chunk = read(pos, n, min(end, hole))
            out.append('0' if chunk == zero[:len(chunk)] else '%08x' % zlib.crc32(chunk))
        pos += n
        if len(out) >= 4096:
            sys.stdout.write('\n'.join(out) + '\n')
            out = []
if out:
    sys.stdout.write('\n'.join(out) + '\n')
`;

/* The same lines from perl (core Digest::MD5), for hosts without python3. */
const perlBlockHashes = String.raw`
use strict; use Digest::MD5 qw(md5_hex);
my ($path, $block) = @ARGV;
open(my $fh, '<:raw', $path) or die "$path: $!";
my $size = sysseek($fh, 0, 2);
die "seek: $!" unless defined $size;
$size += 0;
my $zero = "\0" x $block;
while (my $line = <STDIN>) {
  next unless $line =~ /^(\d+) (\d+)$/;
  my ($start, $end) = ($1, $1 + $2);
  for (my $pos = $start; $pos < $end; $pos += $block) {
    my $n = $end - $pos < $block ? $end - $pos : $block;
    if ($pos >= $size) { print "-\n"; next; }
    sysseek($fh, $pos, 0) or die "seek: $!";
    my $got = sysread($fh, my $buf, $n);
    die "short read at $pos" unless defined $got;
    print(($buf eq substr($zero, 0, length $buf)) ? "0\n" : substr(md5_hex($buf), 0, 16) . "\n");
  }
}
`;

/** Hashes every block of each extent of a file on the host, in order; each extent starts a new block. */
export async function remoteBlockHashes(
  session: SshSession,
  tool: Exclude<BlockHashTool, 'none'>,
  path: string,
  extents: readonly Extent[],
  blockSize: number,
): Promise<string[]> {
  if (extents.length === 0) return [];
  // '--': perl, unlike python after -c, would read a path starting with '-' as a switch.
  const command =
    tool === 'python3'
      ? sh`python3 -c ${pythonBlockHashes} ${path} ${blockSize}`
      : sh`perl -e ${perlBlockHashes} -- ${path} ${blockSize}`;
  const stdin = extents.map((extent) => `${extent.start} ${extent.length}\n`).join('');
  const output = await session.run(command, {
    what: `hashing blocks of ${path}`,
    failureCode: ErrorCode.SYNC_ERROR,
    stdin,
    // One sync step (256 MiB) per call, heartbeated by syncRange: an hour means a disk slower than 75 KB/s.
    timeoutMs: 60 * 60_000,
  });
  return output.split('\n').filter((line) => line.length > 0);
}
