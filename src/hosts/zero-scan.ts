import { ErrorCode } from '../errors';
import { sh, type ShellFragment } from '../domain/shell-quote';
import type { Extent } from '../domain/transfer-plan';
import { parseZeroScan, ZERO_SCAN_CHUNK, ZERO_SCAN_GRAIN } from '../domain/zero-scan';
import { pythonReader } from './python-reader';
import { remoteTools } from './remote-tools';
import type { SshSession } from './ssh-session';

/*
 * Where a block device is not all zero, read on its host (src/domain/zero-scan.ts has the
 * output format), in 4 MiB direct reads (python-reader.ts). A chunk that is all zero costs
 * one memcmp; only the others are looked at per 64 KiB grain.
 */
const pythonZeroScan = String.raw`${pythonReader}
import sys
path, start, length, chunk, grain = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fd, read = open_reader(path, chunk)
size = os.lseek(fd, 0, os.SEEK_END)
end = min(size, start + length)
zero = bytes(chunk)
zero_grain = zero[:grain]
out = []
run = -1
def close_run(at):
    global run
    if run >= 0:
        out.append('%d %d' % (run, at - run))
        run = -1
pos = start
while pos < end:
    data = read(pos, min(chunk, end - pos))
    n = len(data)
    if n == 0:
        sys.exit('short read at %d' % pos)
    if data == (zero if n == chunk else zero[:n]):
        close_run(pos)
    else:
        for off in range(0, n, grain):
            m = min(grain, n - off)
            if data[off:off + m] == (zero_grain if m == grain else zero[:m]):
                close_run(pos + off)
            elif run < 0:
                run = pos + off
    pos += n
    if len(out) >= 4096:
        sys.stdout.write('\n'.join(out) + '\n')
        out = []
close_run(pos)
out.append('end %d' % pos)
sys.stdout.write('\n'.join(out) + '\n')
`;

/* The same report from perl, for hosts without python3 (buffered reads: perl has no O_DIRECT buffer alignment). */
const perlZeroScan = String.raw`
use strict;
my ($path, $start, $length, $chunk, $grain) = @ARGV;
open(my $fh, '<:raw', $path) or die "$path: $!";
my $size = sysseek($fh, 0, 2);
die "seek: $!" unless defined $size;
$size += 0;
my $end = $start + $length < $size ? $start + $length : $size;
my $zero = "\0" x $chunk;
my $run = -1;
my $pos = $start;
sub close_run { my ($at) = @_; if ($run >= 0) { print "$run ", $at - $run, "\n"; $run = -1; } }
defined(sysseek($fh, $pos, 0)) or die "seek: $!";
while ($pos < $end) {
  my $want = $end - $pos < $chunk ? $end - $pos : $chunk;
  my $got = sysread($fh, my $buf, $want);
  die "short read at $pos" unless $got;
  if ($buf eq substr($zero, 0, $got)) { close_run($pos); }
  else {
    for (my $off = 0; $off < $got; $off += $grain) {
      my $piece = substr($buf, $off, $grain);
      if ($piece eq substr($zero, 0, length $piece)) { close_run($pos + $off); }
      elsif ($run < 0) { $run = $pos + $off; }
    }
  }
  $pos += $got;
}
close_run($pos);
print "end $pos\n";
`;

/** The scan command with `tool`: exported so that each tool is testable on one host. */
export function zeroScanCommand(tool: 'python3' | 'perl', path: string, range: Extent): ShellFragment {
  const args = [range.start, range.length, ZERO_SCAN_CHUNK, ZERO_SCAN_GRAIN];
  // '--': perl, unlike python after -c, would read a path starting with '-' as a switch.
  return tool === 'python3'
    ? sh`python3 -c ${pythonZeroScan} ${path} ${args}`
    : sh`perl -e ${perlZeroScan} -- ${path} ${args}`;
}

/**
 * The extents of `range` of a block device that are not all zero, scanned on its host with
 * python3 (else perl). A host with neither reports the whole range as data: the copy is
 * then as big as the device, but still right.
 */
export async function scanBlockDevice(
  session: SshSession,
  path: string,
  range: Extent,
  tool?: 'python3' | 'perl',
): Promise<Extent[]> {
  if (range.length === 0) return [];
  const tools = await remoteTools(session);
  const chosen = tool ?? (tools.python3 ? 'python3' : tools.perl ? 'perl' : undefined);
  if (!chosen) return [{ ...range }];
  const output = await session.run(zeroScanCommand(chosen, path, range), {
    what: `scanning ${path} for data`,
    failureCode: ErrorCode.TRANSFER_ERROR,
    // A whole device is read: as long as the disk takes at its sequential speed.
    timeoutMs: Infinity,
  });
  return parseZeroScan(output, path, range);
}
