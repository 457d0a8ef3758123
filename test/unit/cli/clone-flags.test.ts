import { describe, expect, it } from 'vitest';
import { cloneInputFromFlags, parseNetworkMap } from '../../../src/cli/clone-flags';
import { ErrorCode } from '../../../src/errors';

const subject = { source: 'a', destination: 'b', vmName: 'web01' };

describe('cloneInputFromFlags', () => {
  it('maps every flag to its workflow input field', () => {
    expect(
      cloneInputFromFlags(subject, {
        newName: 'copy',
        destPool: 'fast',
        force: true,
        dryRun: true,
        parallel: '8',
        compress: true,
        verify: false,
        preserveMac: true,
        bandwidthLimit: '100M',
        timeout: '600',
        start: true,
        networkMap: ['default=br0', 'lan=lan2'],
        copyCdroms: true,
        excludeDisk: ['vdb', 'vdc'],
        flatten: true,
      }),
    ).toEqual({
      ...subject,
      newName: 'copy',
      destPool: 'fast',
      force: true,
      dryRun: true,
      parallel: 8,
      compress: true,
      verify: false,
      preserveMac: true,
      bandwidthLimit: '100M',
      timeout: 600,
      start: true,
      networkMap: { default: 'br0', lan: 'lan2' },
      copyCdroms: true,
      excludeDisks: ['vdb', 'vdc'],
      flattenBackingChain: true,
    });
  });

  it('leaves unset flags out, so the workflow schema supplies its defaults', () => {
    expect(cloneInputFromFlags(subject, {})).toEqual(subject);
  });

  it('applies config defaults under the flags', () => {
    const input = cloneInputFromFlags(
      subject,
      { parallel: '2', networkMap: ['lan=br1'], excludeDisk: ['vdc'] },
      { parallel: 6, compress: true, networkMap: { default: 'br0', lan: 'x' }, excludeDisks: ['vdb'] },
    );
    expect(input).toEqual({
      ...subject,
      parallel: 2,
      compress: true,
      networkMap: { default: 'br0', lan: 'br1' },
      excludeDisks: ['vdb', 'vdc'],
    });
  });

  it('lets --dest-pool replace a configured destDir rather than conflict with it', () => {
    expect(cloneInputFromFlags(subject, { destPool: 'fast' }, { destDir: '/srv' })).toEqual({
      ...subject,
      destPool: 'fast',
    });
    expect(cloneInputFromFlags(subject, { destDir: '/srv' }, { destPool: 'fast' })).toEqual({
      ...subject,
      destDir: '/srv',
    });
  });

  it('rejects a timeout that is not a whole number with 1304', () => {
    expect(() => cloneInputFromFlags(subject, { timeout: '1h' })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_TIMEOUT }),
    );
    expect(() => cloneInputFromFlags(subject, { parallel: '' })).toThrow(
      expect.objectContaining({ code: ErrorCode.VALIDATION_ERROR }),
    );
  });
});

describe('parseNetworkMap', () => {
  it('rejects entries that are not SRC=DST', () => {
    expect(() => parseNetworkMap(['default'])).toThrow(/not SOURCE=DESTINATION/);
    expect(() => parseNetworkMap(['a=b=c'])).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_ERROR }));
  });
});
