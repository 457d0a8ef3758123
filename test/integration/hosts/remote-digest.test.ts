import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { digestCommand, remoteSha256 } from '../../../src/hosts/remote-digest';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { Lab } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
const file = `${lab.host('a').vmDir}/digest-fallback.img`;
let session: SshSession;

beforeAll(async () => {
  // This file's worker process probes host a once, without python3 and perl.
  process.env.KVM_CLONE_DISABLE_REMOTE_TOOLS = 'python3,perl';
  session = await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
  await session.run(sh`head -c 3000000 /dev/urandom > ${file} && truncate -s 9000000 ${file}`);
});

afterAll(async () => {
  await session?.run(sh`rm -f ${file}`);
  session?.close();
  delete process.env.KVM_CLONE_DISABLE_REMOTE_TOOLS;
});

describe('remote SHA-256 without python3 or perl', () => {
  it('falls back to coreutils, says so, and hashes the whole file and a range correctly', async () => {
    const bytes = await readFile(file);
    const whole = await remoteSha256(session, file);
    expect(whole).toEqual({
      algorithm: 'sha256',
      tool: 'coreutils',
      hex: createHash('sha256').update(bytes).digest('hex'),
    });
    const range = await remoteSha256(session, file, [{ start: 1000, length: 4_000_000 }]);
    expect(range.hex).toBe(createHash('sha256').update(bytes.subarray(1000, 4_001_000)).digest('hex'));
  });
});

describe.each(['python3', 'perl', 'coreutils'] as const)('remote SHA-256 of several ranges with %s', (tool) => {
  it('hashes the ranges, in the order given, as one stream, holes included', async () => {
    const bytes = await readFile(file);
    const extents = [
      { start: 5_000_000, length: 70_000 },
      { start: 10, length: 2_999_000 },
      { start: 8_999_990, length: 10 },
    ];
    const expected = createHash('sha256');
    for (const extent of extents) expected.update(bytes.subarray(extent.start, extent.start + extent.length));
    const output = await session.run(digestCommand(tool, file, extents));
    expect(output.trim().split(/\s+/)[0]).toBe(expected.digest('hex'));
  });
});
