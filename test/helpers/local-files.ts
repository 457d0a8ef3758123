import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Extent } from '../../src/domain/transfer-plan';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** SHA-256 of a file on this machine, where the lab hosts keep theirs: the reference a copy must match. */
export async function sha256OfFile(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** The file's data extents as the local kernel sees them (SEEK_DATA/SEEK_HOLE): where the holes are. */
export async function dataLayout(path: string): Promise<Extent[]> {
  const script = `
import json, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
end, position, extents = os.fstat(fd).st_size, 0, []
while position < end:
    try:
        data = os.lseek(fd, position, os.SEEK_DATA)
    except OSError:
        break
    hole = os.lseek(fd, data, os.SEEK_HOLE)
    extents.append({"start": data, "length": hole - data})
    position = hole
print(json.dumps(extents))
`;
  const { stdout } = await run('python3', ['-c', script, path]);
  return JSON.parse(stdout) as Extent[];
}

/** A 24 MiB sparse test file's data extents: random data and text, with holes between. */
export const sparseTestFileSize = 24 * MiB;
export const sparseTestExtents: readonly Extent[] = [
  { start: 0, length: 1 * MiB },
  { start: 4 * MiB, length: 2 * MiB },
  { start: 10 * MiB, length: 256 * 1024 },
  { start: 23 * MiB, length: 1 * MiB },
];
