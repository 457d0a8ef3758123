import { ErrorCode } from '../errors';
import { sh, type ShellFragment } from '../domain/shell-quote';
import type { Extent } from '../domain/transfer-plan';
import type { FileDigest } from '../domain/clone-result';
import { remoteTools } from './remote-tools';
import type { SshSession } from './ssh-session';

/*
 * SHA-256 of a byte range, from the file on the host. Holes are fed to the hash as zeros
 * without being read (SEEK_DATA/SEEK_HOLE), so a sparse disk hashes at CPU speed.
 * python's hashlib uses OpenSSL (SHA-NI): ~1.2 GB/s against ~0.2 GB/s for sha256sum.
 */
const pythonSha256 = String.raw`
import hashlib, os, sys
path, start, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_RDONLY)
size = os.fstat(fd).st_size
end = size if length < 0 else min(size, start + length)
digest = hashlib.sha256()
zeros = memoryview(bytes(1 << 22))
pos = start
def seek(whence):
    try:
        return min(os.lseek(fd, pos, whence), end)
    except OSError:
        return end
while pos < end:
    data = seek(os.SEEK_DATA)
    while pos < data:
        n = min(len(zeros), data - pos)
        digest.update(zeros[:n])
        pos += n
    hole = seek(os.SEEK_HOLE) if pos < end else end
    while pos < hole:
        chunk = os.pread(fd, min(1 << 22, hole - pos), pos)
        if not chunk:
            sys.exit("short read at %d" % pos)
        digest.update(chunk)
        pos += len(chunk)
print(digest.hexdigest())
`;

const perlSha256 = String.raw`
use strict; use Digest::SHA;
my ($path, $start, $length) = @ARGV;
open(my $fh, '<:raw', $path) or die "$path: $!";
my $size = -s $fh;
my $end = $length < 0 ? $size : ($start + $length < $size ? $start + $length : $size);
sysseek($fh, $start, 0) or die "seek: $!";
my $sha = Digest::SHA->new(256);
my $left = $end - $start;
while ($left > 0) {
  my $want = $left < 4194304 ? $left : 4194304;
  my $got = sysread($fh, my $buf, $want);
  die "short read" unless $got;
  $sha->add($buf);
  $left -= $got;
}
print $sha->hexdigest, "\n";
`;

function digestCommand(tool: FileDigest['tool'], path: string, range: Extent | undefined): ShellFragment {
  const start = range?.start ?? 0;
  const length = range?.length ?? -1;
  switch (tool) {
    case 'python3':
      return sh`python3 -c ${pythonSha256} ${path} ${start} ${length}`;
    case 'perl':
      return sh`perl -e ${perlSha256} ${path} ${start} ${length}`;
    case 'coreutils':
      return range ? sh`tail -c +${start + 1} -- ${path} | head -c ${length} | sha256sum` : sh`sha256sum < ${path}`;
  }
}

/** SHA-256 of a file, or of one range of it, computed on the host that holds it. */
export async function remoteSha256(session: SshSession, path: string, range?: Extent): Promise<FileDigest> {
  const tools = await remoteTools(session);
  const tool: FileDigest['tool'] = tools.python3 ? 'python3' : tools.perl ? 'perl' : 'coreutils';
  const output = await session.run(digestCommand(tool, path, range), { what: `hashing ${path}`, failureCode: ErrorCode.TRANSFER_ERROR });
  return { algorithm: 'sha256', hex: output.trim().split(/\s+/)[0] ?? '', tool };
}
