import { describe, expect, it } from 'vitest';
import { cloneRewriteFor, destinationFileName } from '../../../src/domain/clone-rewrite';
import type { PlannedFile } from '../../../src/domain/copied-file';

function planned(overrides: Partial<PlannedFile>): PlannedFile {
  return {
    role: 'disk',
    target: 'vda',
    depth: 0,
    sourcePath: '/src/root.qcow2',
    format: 'qcow2',
    fileSize: 1,
    virtualSize: 1,
    allocatedSize: 1,
    destinationPath: '/dst/x',
    partialPath: '/dst/x.part',
    ...overrides,
  };
}

describe('destinationFileName', () => {
  it('names each kind of file after the clone', () => {
    expect(destinationFileName('web', planned({}))).toBe('web-vda.qcow2');
    expect(destinationFileName('web', planned({ role: 'backing', depth: 2, sourcePath: '/src/base.img' }))).toBe(
      'web-vda-backing2.img',
    );
    expect(
      destinationFileName('web', planned({ role: 'nvram', target: 'nvram', sourcePath: '/var/lib/nvram/x_VARS.fd' })),
    ).toBe('web_VARS.fd');
    expect(destinationFileName('web', planned({ role: 'cdrom', target: 'hdc', sourcePath: '/iso/debian.iso' }))).toBe(
      'web-hdc.iso',
    );
    expect(
      destinationFileName(
        'web',
        planned({ role: 'tpm', target: 'tpm2/tpm2-00.permall', sourcePath: '/s/tpm2/tpm2-00.permall' }),
      ),
    ).toBe('tpm2/tpm2-00.permall');
  });

  it('attack: a target that would leave the destination directory is refused with 1302', () => {
    expect(() => destinationFileName('web', planned({ target: 'a/../../../../etc/cron.d/pwn' }))).toThrow(
      expect.objectContaining({ code: 1302 }),
    );
    expect(() => destinationFileName('web', planned({ role: 'backing', depth: 1, target: '../x' }))).toThrow(
      expect.objectContaining({ code: 1302 }),
    );
  });
});

describe('cloneRewriteFor', () => {
  const files = [
    planned({ destinationPath: '/dst/web-vda.qcow2' }),
    planned({ role: 'backing', depth: 1, destinationPath: '/dst/web-vda-backing1.qcow2' }),
    planned({ role: 'cdrom', target: 'hdc', destinationPath: '/dst/web-hdc.iso' }),
    planned({ role: 'nvram', target: 'nvram', destinationPath: '/dst/web_VARS.fd' }),
  ];

  it('points disks and CD-ROMs at their copies, backing layers excepted, and sets the NVRAM path', () => {
    const rewrite = cloneRewriteFor({
      newName: 'web',
      files,
      logDir: '/dst',
      networkMap: { default: 'br0' },
      excludeDisks: ['vdc'],
      macAddresses: ['52:54:00:00:00:01'],
    });
    expect(rewrite).toEqual({
      newName: 'web',
      diskPaths: { vda: '/dst/web-vda.qcow2', hdc: '/dst/web-hdc.iso' },
      logDir: '/dst',
      networkMap: { default: 'br0' },
      removeDisks: ['vdc'],
      macAddresses: ['52:54:00:00:00:01'],
      nvramPath: '/dst/web_VARS.fd',
    });
  });

  it('makes disks volumes of the destination pool, named after their files', () => {
    const rewrite = cloneRewriteFor({
      newName: 'web',
      files,
      logDir: '/dst',
      networkMap: {},
      excludeDisks: [],
      destPool: 'images',
    });
    expect(rewrite.volumeDisks).toEqual({ vda: { pool: 'images', volume: 'web-vda.qcow2' } });
    expect(rewrite.macAddresses).toBeUndefined();
  });
});
