import { describe, expect, it } from 'vitest';
import {
  isSafeFileName,
  isSafeRelativePath,
  isUnder,
  joinPath,
  normalizeAbsolutePath,
} from '../../../src/domain/paths';
import { ErrorCode } from '../../../src/errors';

describe('normalizeAbsolutePath', () => {
  it('drops empty and . components and applies ..', () => {
    expect(normalizeAbsolutePath('/var//lib/./libvirt/images/')).toBe('/var/lib/libvirt/images');
    expect(normalizeAbsolutePath('/var/lib/libvirt/images/../../../../etc/cron.d')).toBe('/etc/cron.d');
    expect(normalizeAbsolutePath('/..')).toBe('/');
  });

  it('refuses a relative path or one with a NUL byte with 1302', () => {
    for (const path of ['images/a.img', '', '/a\0b']) {
      expect(() => normalizeAbsolutePath(path)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PATH }));
    }
  });
});

describe('isUnder', () => {
  it('holds for the root and what lies below it, after normalising', () => {
    expect(isUnder('/srv/vms', '/srv/vms')).toBe(true);
    expect(isUnder('/srv/vms/', '/srv/vms/a/b.img')).toBe(true);
    expect(isUnder('/', '/etc/passwd')).toBe(true);
  });

  it('does not hold for a sibling with the same prefix, or a path that walks out', () => {
    expect(isUnder('/srv/vms', '/srv/vms-other/a.img')).toBe(false);
    expect(isUnder('/srv/vms', '/srv/vms/../etc/passwd')).toBe(false);
  });
});

describe('safe names', () => {
  it('takes one plain component as a file name', () => {
    expect(isSafeFileName('web01-vda.qcow2')).toBe(true);
    for (const name of ['', '.', '..', 'a/b', 'new\nline', 'x'.repeat(256)]) expect(isSafeFileName(name)).toBe(false);
  });

  it('takes relative paths of safe components only', () => {
    expect(isSafeRelativePath('tpm2/tpm2-00.permall')).toBe(true);
    for (const path of ['', '/etc/passwd', '../x', 'tpm2/../../x', 'a//b'])
      expect(isSafeRelativePath(path)).toBe(false);
  });
});

describe('joinPath', () => {
  it('joins with exactly one slash', () => {
    expect(joinPath('/pool', 'a.qcow2')).toBe('/pool/a.qcow2');
    expect(joinPath('/pool/', 'a.qcow2')).toBe('/pool/a.qcow2');
    expect(joinPath('/pool///', 'a.qcow2')).toBe('/pool/a.qcow2');
    expect(joinPath('/', 'a.qcow2')).toBe('/a.qcow2');
  });

  it('joins a relative path of safe components (TPM state) and normalises the directory', () => {
    expect(joinPath('/state/./uuid', 'tpm2/tpm2-00.permall')).toBe('/state/uuid/tpm2/tpm2-00.permall');
  });

  it.each(['../../etc/cron.d/pwn', 'a/../../b', '/etc/passwd', '', '.', 'a//b', 'new\nline'])(
    'attack: refuses %j, which would leave the directory, with 1302',
    (name) => {
      expect(() => joinPath('/pool', name)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PATH }));
    },
  );
});
