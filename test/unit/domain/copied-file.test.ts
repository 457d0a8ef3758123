import { describe, expect, it } from 'vitest';
import {
  isLiveDisk,
  liveOverlayPath,
  operationTag,
  overlayPathFor,
  partialPathFor,
} from '../../../src/domain/copied-file';

describe('copied file names', () => {
  it('tags an operation stably, and differently for another run', () => {
    expect(operationTag('clone:a:web:b', 'run-1')).toBe(operationTag('clone:a:web:b', 'run-1'));
    expect(operationTag('clone:a:web:b', 'run-1')).not.toBe(operationTag('clone:a:web:b', 'run-2'));
    expect(operationTag('clone:a:web:b', 'run-1')).toMatch(/^[0-9a-f]{8}$/);
  });

  it('names partial copies and overlays beside their files, saying what they are', () => {
    expect(partialPathFor('/images/web-vda.qcow2', '0a1b2c3d')).toBe('/images/web-vda.qcow2.kvm-clone-0a1b2c3d.part');
    expect(overlayPathFor('/vms/web/root.qcow2', '0a1b2c3d')).toBe('/vms/web/root.qcow2.kvm-clone-0a1b2c3d.overlay');
  });

  it("puts a block device's overlay in its overlay directory, never beside the device in /dev", () => {
    expect(liveOverlayPath({ sourcePath: '/vms/web/root.qcow2', target: 'vda' }, '0a1b2c3d')).toBe(
      '/vms/web/root.qcow2.kvm-clone-0a1b2c3d.overlay',
    );
    expect(
      liveOverlayPath({ sourcePath: '/dev/vg0/web', target: 'vdb', overlayDir: '/var/lib/libvirt/images' }, '0a1b2c3d'),
    ).toBe('/var/lib/libvirt/images/block-vdb.kvm-clone-0a1b2c3d.overlay');
    expect(() => liveOverlayPath({ sourcePath: '/dev/x', target: '../../etc', overlayDir: '/images' }, 't')).toThrow(
      expect.objectContaining({ code: 1302 }),
    );
  });

  it('snapshots only the writable top images of disks', () => {
    const file = {
      target: 'vda',
      depth: 0,
      sourcePath: '/x',
      format: 'qcow2',
      fileSize: 1,
      virtualSize: 1,
      allocatedSize: 1,
    };
    expect(isLiveDisk({ ...file, role: 'disk' })).toBe(true);
    expect(isLiveDisk({ ...file, role: 'backing', depth: 1 })).toBe(false);
    expect(isLiveDisk({ ...file, role: 'cdrom' })).toBe(false);
    expect(isLiveDisk({ ...file, role: 'nvram' })).toBe(false);
  });
});
