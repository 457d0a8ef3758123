import { describe, expect, it } from 'vitest';
import { backupSocketPath } from '../../../src/hosts/checkpoints';

describe('backupSocketPath', () => {
  it('puts the socket beside the disks while the path fits a Unix socket, else in /tmp', () => {
    expect(backupSocketPath('/var/lib/libvirt/images', '0a1b2c3d')).toBe(
      '/var/lib/libvirt/images/.kvm-clone-0a1b2c3d.sock',
    );
    const deep = `/srv/${'d'.repeat(80)}`;
    expect(backupSocketPath(deep, '0a1b2c3d')).toBe('/tmp/kvm-clone-0a1b2c3d.sock');
    // Bytes, not characters, are what the kernel limits.
    expect(backupSocketPath(`/srv/${'é'.repeat(40)}`, '0a1b2c3d')).toBe('/tmp/kvm-clone-0a1b2c3d.sock');
  });
});
