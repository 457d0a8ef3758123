import { describe, expect, it } from 'vitest';
import { domainListing, matchesStateFilter, memoryBytes } from '../../../src/hosts/domain-listing';

const xml = `<domain type='kvm'>
  <name>web01</name>
  <uuid>0b8e5c8e-3f8a-4c1e-9d5a-1c2b3a4d5e6f</uuid>
  <memory unit='KiB'>2097152</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/libvirt/images/web01.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='volume' device='disk'><source pool='fast' volume='web01-data'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>
    <interface type='bridge'><source bridge='br0'/></interface>
  </devices>
</domain>`;

describe('domainListing', () => {
  it('reads name, UUID, current memory and vCPUs, disks and networks', () => {
    expect(domainListing(xml, 'running')).toEqual({
      name: 'web01',
      uuid: '0b8e5c8e-3f8a-4c1e-9d5a-1c2b3a4d5e6f',
      state: 'running',
      memoryBytes: 1024 ** 3,
      vcpus: 2,
      disks: [
        { target: 'vda', device: 'disk', source: '/var/lib/libvirt/images/web01.qcow2' },
        { target: 'vdb', device: 'disk', source: 'fast/web01-data' },
        { target: 'sda', device: 'cdrom' },
      ],
      networks: ['default', 'br0'],
    });
  });

  it('converts libvirt memory units, KiB by default', () => {
    expect(memoryBytes('512', undefined)).toBe(512 * 1024);
    expect(memoryBytes('2', 'GiB')).toBe(2 * 1024 ** 3);
    expect(memoryBytes('1', 'parsec')).toBeUndefined();
  });

  it('groups libvirt states under the --status filters', () => {
    expect(matchesStateFilter('idle', 'running')).toBe(true);
    expect(matchesStateFilter('pmsuspended', 'paused')).toBe(true);
    expect(matchesStateFilter('crashed', 'stopped')).toBe(true);
    expect(matchesStateFilter('shut off', 'running')).toBe(false);
    expect(matchesStateFilter('paused', 'all')).toBe(true);
  });
});
