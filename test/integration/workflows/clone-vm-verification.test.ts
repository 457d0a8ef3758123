import { open, readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Activities } from '../../../src/activities';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));

/** VM names whose copies get damaged after every transfer, and after only the first one. */
const alwaysCorrupt = new Set<string>();
const corruptOnce = new Set<string>();
const corrupted = new Set<string>();

/**
 * A fault at a real boundary: after a range is copied, a byte of it is overwritten in the
 * destination file, as a bad disk or a buggy filesystem would. The real verification
 * activities then have to find it.
 */
async function damage(path: string, offset: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0xff;
    await file.write(byte, 0, 1, offset);
  } finally {
    await file.close();
  }
}

const testEnvironment = useTestEnvironment(lab.aliases(), {
  decorateActivities: (activities: Activities): Activities => ({
    ...activities,
    async transferRange(input) {
      const result = await activities.transferRange(input);
      const vm = [...alwaysCorrupt, ...corruptOnce].find((name) =>
        input.destinationPath.includes(`/${name}_clone-vdb`),
      );
      const key = `${input.destinationPath}@${input.range.start}`;
      if (vm && result.dataBytes > 0 && (alwaysCorrupt.has(vm) || !corrupted.has(key))) {
        corrupted.add(key);
        await damage(input.destinationPath, input.range.start);
      }
      return result;
    },
  }),
});

describe('cloneVM verification', () => {
  it('re-copies a range whose digests differ once, then succeeds with identical copies', async () => {
    const name = uniqueVmName('recopy');
    corruptOnce.add(name);
    await lab.makeVm('a', name);

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });

    expect(result.rangesRecopied).toBeGreaterThanOrEqual(1);
    expect(result.warnings.join('\n')).toContain('was copied again');
    for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
  });

  it('fails with 1006 when a range still differs after its re-copy, and removes the partial copies', async () => {
    const name = uniqueVmName('badcopy');
    alwaysCorrupt.add(name);
    await lab.makeVm('a', name);

    await expect(testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name })).rejects.toMatchObject(
      {
        code: ErrorCode.TRANSFER_ERROR,
        message: expect.stringContaining('still differs after copying it again'),
      },
    );
    expect((await readdir(lab.host('b').storageDir)).filter((file) => file.startsWith(`${name}_clone`))).toEqual([]);
    expect(await lab.domainState('b', `${name}_clone`)).toBeUndefined();
  });
});
