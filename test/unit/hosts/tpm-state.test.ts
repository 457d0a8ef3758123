import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { parseTpmStateListing } from '../../../src/hosts/tpm-state';

describe('parseTpmStateListing', () => {
  it('reads NUL-separated relative paths, sorted', () => {
    expect(parseTpmStateListing('./tpm2/tpm2-00.permall\0./tpm2/a name\0', '/s')).toEqual([
      'tpm2/a name',
      'tpm2/tpm2-00.permall',
    ]);
    expect(parseTpmStateListing('', '/s')).toEqual([]);
  });

  it.each([
    './../../../../etc/cron.d/pwn',
    './tpm2/../../x',
    '/etc/passwd',
    './',
    './a//b',
    'tpm2/x',
    './tpm2/new\nline',
  ])('attack: refuses %j from a lying find with 1302', (entry) => {
    expect(() => parseTpmStateListing(`./tpm2/ok\0${entry}\0`, '/s')).toThrow(
      expect.objectContaining({
        code: ErrorCode.INVALID_PATH,
        message: expect.stringContaining('TPM state listing of /s'),
      }),
    );
  });
});
