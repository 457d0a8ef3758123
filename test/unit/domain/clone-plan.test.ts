import { describe, expect, it } from 'vitest';
import {
  copiedDisks,
  destinationBackingFileName,
  destinationDiskFileName,
  destinationNvramFileName,
  isCopiedDisk,
  randomMac,
  unsupportedDisks,
  uuidFromRandom,
} from '../../../src/domain/clone-plan';
import { parseDomainXml, type DomainDisk } from '../../../src/domain/domain-xml';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { uefiXml } from './fixtures/domains';

function disk(overrides: Partial<DomainDisk>): DomainDisk {
  return {
    target: 'vda',
    device: 'disk',
    type: 'file',
    sourcePath: '/images/web.qcow2',
    readonly: false,
    ...overrides,
  };
}

/** A fake random source that replays a fixed sequence, like a workflow's seeded Math.random. */
function sequence(...values: number[]): () => number {
  let index = 0;
  return () => {
    const value = values[index % values.length]!;
    index += 1;
    return value;
  };
}

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

describe('destinationDiskFileName', () => {
  it('names the copy <newName>-<target><source extension>', () => {
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/var/lib/libvirt/images/web.qcow2' })).toBe(
      'web2-vda.qcow2',
    );
    expect(destinationDiskFileName('web2', { target: 'vdb', sourcePath: '/srv/data.tar.img' })).toBe('web2-vdb.img');
  });

  it("names a block device's copy by the format the XML declares, never by the device's name", () => {
    const lv = { target: 'vdb', sourcePath: '/dev/vg0/data.qcow2', blockDevice: true };
    expect(destinationDiskFileName('web2', { ...lv, format: 'raw' })).toBe('web2-vdb.raw');
    expect(destinationDiskFileName('web2', { ...lv, format: 'qcow2' })).toBe('web2-vdb.qcow2');
    expect(destinationDiskFileName('web2', { ...lv, format: '../x' })).toBe('web2-vdb');
    expect(destinationDiskFileName('web2', lv)).toBe('web2-vdb');
  });

  it('uses no extension when the file name has none', () => {
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/images/disk' })).toBe('web2-vda');
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/images.d/disk' })).toBe('web2-vda');
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/images/.hidden' })).toBe('web2-vda');
  });

  it('keeps only letters, digits and dots of the extension', () => {
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/images/x.q c"ow 2' })).toBe('web2-vda.qcow2');
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: "/images/x.q$(c)ow'2" })).toBe(
      'web2-vda.qcow2',
    );
  });
});

describe('destination file names from source data', () => {
  it('attack: a target or name that would not stay one path component is refused with 1302', () => {
    expect(() =>
      destinationDiskFileName('web', { target: 'a/../../../../etc/cron.d/pwn', sourcePath: '/x.qcow2' }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PATH }));
    expect(() => destinationBackingFileName('web', 'vda/..', 1, '/x.qcow2')).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_PATH }),
    );
    expect(destinationDiskFileName('web', { target: 'vda', sourcePath: '/x/../y.qc/ow2' })).toBe('web-vda');
  });
});

describe('isCopiedDisk and unsupportedDisks', () => {
  const fileDisk = disk({});
  const cdrom = disk({ target: 'sda', device: 'cdrom', readonly: true, sourcePath: '/iso/debian.iso' });
  const emptyCdrom = disk({ target: 'sdb', device: 'cdrom', sourcePath: undefined });
  const floppy = disk({ target: 'fda', device: 'floppy' });
  const blockDisk = disk({ target: 'vdb', type: 'block', sourcePath: '/dev/vg/lv' });
  const networkDisk = disk({ target: 'vdc', type: 'network', sourcePath: undefined });
  const fileDiskWithoutSource = disk({ target: 'vdd', sourcePath: undefined });

  const blockWithoutSource = disk({ target: 'vde', type: 'block', sourcePath: undefined });
  const blockRelative = disk({ target: 'vdf', type: 'block', sourcePath: 'dev/vg/lv' });
  const blockLun = disk({ target: 'sdc', type: 'block', device: 'lun', sourcePath: '/dev/sdc' });

  it('copies file-backed and block-device disks with a source', () => {
    expect(isCopiedDisk(fileDisk)).toBe(true);
    expect(isCopiedDisk(blockDisk)).toBe(true);
    for (const other of [
      cdrom,
      emptyCdrom,
      floppy,
      networkDisk,
      fileDiskWithoutSource,
      blockWithoutSource,
      blockRelative,
      blockLun,
    ])
      expect(isCopiedDisk(other)).toBe(false);
  });

  it('refuses disks that are not copied, but not cdroms or floppies', () => {
    const all = [fileDisk, cdrom, emptyCdrom, floppy, blockDisk, networkDisk, fileDiskWithoutSource];
    expect(unsupportedDisks(all)).toEqual([networkDisk, fileDiskWithoutSource]);
    expect(unsupportedDisks([fileDisk, cdrom, blockWithoutSource])).toEqual([blockWithoutSource]);
  });
});

describe('isCopiedDisk with a selection', () => {
  const fileDisk = disk({});
  const cdrom = disk({ target: 'sda', device: 'cdrom', readonly: true, sourcePath: '/iso/debian.iso' });
  const emptyCdrom = disk({ target: 'sdb', device: 'cdrom', sourcePath: undefined });
  const blockCdrom = disk({ target: 'sdc', device: 'cdrom', type: 'block', sourcePath: '/dev/sr0' });
  const volumeCdrom = disk({
    target: 'sdd',
    device: 'cdrom',
    type: 'volume',
    sourcePath: undefined,
    pool: 'isos',
    volume: 'debian.iso',
  });
  const floppy = disk({ target: 'fda', device: 'floppy' });
  const volumeDisk = disk({
    target: 'vdb',
    type: 'volume',
    sourcePath: undefined,
    pool: 'default',
    volume: 'web-data.qcow2',
  });
  const volumeWithoutName = disk({ target: 'vdc', type: 'volume', sourcePath: undefined, pool: 'default' });
  const blockDisk = disk({ target: 'vde', type: 'block', sourcePath: '/dev/vg/lv' });

  it('copies a pool volume by pool and volume alone: the caller resolves its path', () => {
    expect(isCopiedDisk(volumeDisk)).toBe(true);
    expect(isCopiedDisk({ ...volumeDisk, sourcePath: '/var/lib/libvirt/images/web-data.qcow2' })).toBe(true);
    expect(isCopiedDisk(volumeWithoutName)).toBe(false);
  });

  it('copies CD-ROM media with a file or volume source only when asked', () => {
    for (const media of [cdrom, volumeCdrom]) {
      expect(isCopiedDisk(media)).toBe(false);
      expect(isCopiedDisk(media, { copyCdroms: true })).toBe(true);
    }
    for (const noFile of [emptyCdrom, blockCdrom]) expect(isCopiedDisk(noFile, { copyCdroms: true })).toBe(false);
  });

  it('never copies floppies', () => {
    expect(isCopiedDisk(floppy, { copyCdroms: true })).toBe(false);
  });

  it('never copies excluded disks', () => {
    expect(isCopiedDisk(fileDisk, { excludeDisks: ['vda'] })).toBe(false);
    expect(isCopiedDisk(cdrom, { copyCdroms: true, excludeDisks: ['sda'] })).toBe(false);
    expect(isCopiedDisk(volumeDisk, { excludeDisks: ['vda'] })).toBe(true);
  });

  it('still works as a filter callback, ignoring the index', () => {
    expect([cdrom, fileDisk, floppy, volumeDisk].filter(isCopiedDisk)).toEqual([fileDisk, volumeDisk]);
  });

  it('copiedDisks applies the selection to a list', () => {
    expect(
      copiedDisks([fileDisk, cdrom, emptyCdrom, volumeDisk, floppy], { copyCdroms: true, excludeDisks: ['vdb'] }),
    ).toEqual([fileDisk, cdrom]);
  });

  it('does not report excluded disks as unsupported', () => {
    const networkDisk = disk({ target: 'vde', type: 'network', sourcePath: undefined });
    expect(unsupportedDisks([fileDisk, blockDisk, networkDisk, volumeWithoutName])).toEqual([
      networkDisk,
      volumeWithoutName,
    ]);
    expect(unsupportedDisks([fileDisk, networkDisk, volumeWithoutName], { excludeDisks: ['vde', 'vdc'] })).toEqual([]);
  });

  it('selects from a parsed UEFI guest', () => {
    const { disks } = parseDomainXml(uefiXml);
    expect(copiedDisks(disks).map((entry) => entry.target)).toEqual(['sda', 'sdb']);
    expect(copiedDisks(disks, { copyCdroms: true, excludeDisks: ['sdb'] }).map((entry) => entry.target)).toEqual([
      'sda',
      'sdc',
    ]);
    expect(unsupportedDisks(disks)).toEqual([]);
  });
});

describe('destinationNvramFileName', () => {
  it('names the variable store as libvirt would for the clone', () => {
    expect(destinationNvramFileName('win11-b')).toBe('win11-b_VARS.fd');
  });
});

describe('destinationBackingFileName', () => {
  it('names each backing image by clone, target and depth, with its own extension', () => {
    expect(destinationBackingFileName('web2', 'vda', 1, '/images/base.qcow2')).toBe('web2-vda-backing1.qcow2');
    expect(destinationBackingFileName('web2', 'vda', 2, '/images/golden')).toBe('web2-vda-backing2');
    expect(destinationBackingFileName('web2', 'vdb', 3, "/images/x.q$(c)ow'2")).toBe('web2-vdb-backing3.qcow2');
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses depth %s', (depth) => {
    let thrown: unknown;
    try {
      destinationBackingFileName('web2', 'vda', depth, '/images/base.qcow2');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KvmCloneError);
    expect((thrown as KvmCloneError).code).toBe(ErrorCode.VALIDATION_ERROR);
  });
});

describe('uuidFromRandom', () => {
  it('lays out sixteen random bytes as a version 4, RFC variant UUID', () => {
    expect(uuidFromRandom(sequence(0))).toBe('00000000-0000-4000-8000-000000000000');
    expect(uuidFromRandom(sequence(0.999999))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(uuidFromRandom(sequence(1))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
  });

  it('is deterministic for the same random sequence and always well formed', () => {
    expect(uuidFromRandom(lcg(7))).toBe(uuidFromRandom(lcg(7)));
    expect(uuidFromRandom(lcg(7))).not.toBe(uuidFromRandom(lcg(8)));
    const random = lcg(7);
    const uuids = Array.from({ length: 100 }, () => uuidFromRandom(random));
    expect(
      uuids.every((uuid) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid)),
    ).toBe(true);
    expect(new Set(uuids).size).toBe(100);
  });

  it('draws exactly sixteen values', () => {
    let calls = 0;
    uuidFromRandom(() => {
      calls += 1;
      return 0.5;
    });
    expect(calls).toBe(16);
  });
});

describe('randomMac', () => {
  it("makes a MAC in QEMU's 52:54:00 range from three random bytes", () => {
    expect(randomMac(sequence(0, 0.5, 0.999999))).toBe('52:54:00:00:80:ff');
    expect(randomMac(sequence(0.0625))).toBe('52:54:00:10:10:10');
  });

  it('is deterministic for the same random sequence and differs for another', () => {
    const first = [randomMac(lcg(42)), randomMac(lcg(42))];
    expect(first[0]).toBe(first[1]);
    const random = lcg(42);
    const macs = Array.from({ length: 50 }, () => randomMac(random));
    expect(macs.every((mac) => /^52:54:00(:[0-9a-f]{2}){3}$/.test(mac))).toBe(true);
    expect(new Set(macs).size).toBeGreaterThan(45);
    expect(macs[0]).toBe(first[0]);
    expect(randomMac(lcg(43))).not.toBe(first[0]);
  });

  it('draws exactly three values', () => {
    let calls = 0;
    randomMac(() => {
      calls += 1;
      return 0.1;
    });
    expect(calls).toBe(3);
  });
});
