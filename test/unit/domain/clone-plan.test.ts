import { describe, expect, it } from 'vitest';
import { destinationDiskFileName, isCopiedDisk, joinPath, randomMac, unsupportedDisks } from '../../../src/domain/clone-plan';
import type { DomainDisk } from '../../../src/domain/domain-xml';

function disk(overrides: Partial<DomainDisk>): DomainDisk {
  return { target: 'vda', device: 'disk', type: 'file', sourcePath: '/images/web.qcow2', readonly: false, ...overrides };
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
  it("names the copy <newName>-<target><source extension>", () => {
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/var/lib/libvirt/images/web.qcow2' })).toBe('web2-vda.qcow2');
    expect(destinationDiskFileName('web2', { target: 'vdb', sourcePath: '/srv/data.tar.img' })).toBe('web2-vdb.img');
  });

  it('uses no extension when the file name has none', () => {
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/images/disk' })).toBe('web2-vda');
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/images.d/disk' })).toBe('web2-vda');
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/images/.hidden' })).toBe('web2-vda');
  });

  it('keeps only letters, digits and dots of the extension', () => {
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: '/images/x.q c"ow 2' })).toBe('web2-vda.qcow2');
    expect(destinationDiskFileName('web2', { target: 'vda', sourcePath: "/images/x.q$(c)ow'2" })).toBe('web2-vda.qcow2');
  });
});

describe('joinPath', () => {
  it('joins with exactly one slash', () => {
    expect(joinPath('/pool', 'a.qcow2')).toBe('/pool/a.qcow2');
    expect(joinPath('/pool/', 'a.qcow2')).toBe('/pool/a.qcow2');
    expect(joinPath('/pool///', 'a.qcow2')).toBe('/pool/a.qcow2');
    expect(joinPath('/', 'a.qcow2')).toBe('/a.qcow2');
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

  it('copies only file-backed disks with a source', () => {
    expect(isCopiedDisk(fileDisk)).toBe(true);
    for (const other of [cdrom, emptyCdrom, floppy, blockDisk, networkDisk, fileDiskWithoutSource]) expect(isCopiedDisk(other)).toBe(false);
  });

  it('refuses disks that are not copied, but not cdroms or floppies', () => {
    const all = [fileDisk, cdrom, emptyCdrom, floppy, blockDisk, networkDisk, fileDiskWithoutSource];
    expect(unsupportedDisks(all)).toEqual([blockDisk, networkDisk, fileDiskWithoutSource]);
    expect(unsupportedDisks([fileDisk, cdrom])).toEqual([]);
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
