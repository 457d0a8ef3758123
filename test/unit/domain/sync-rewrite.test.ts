import { describe, expect, it } from 'vitest';
import { syncRewrite } from '../../../src/domain/sync-rewrite';

const domain = (name: string, uuid: string, macs: string[], network: string, diskPath: string) => `<domain type='kvm'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${diskPath}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='fast' volume='${name}-data'/><target dev='vdb' bus='virtio'/></disk>
    ${macs.map((mac) => `<interface type='network'><mac address='${mac}'/><source network='${network}'/></interface>`).join('\n    ')}
    <serial type='file'><source path='${diskPath.replace(/[^/]*$/, '')}console.log'/></serial>
  </devices>
</domain>`;

describe('syncRewrite', () => {
  const source = domain(
    'web01',
    '11111111-1111-1111-1111-111111111111',
    ['52:54:00:00:00:01', '52:54:00:00:00:02'],
    'prod',
    '/src/web01.qcow2',
  );
  const target = domain(
    'web01-standby',
    '22222222-2222-2222-2222-222222222222',
    ['52:54:00:00:00:aa'],
    'standby',
    '/dst/web01-standby-vda.qcow2',
  );
  const files = [
    { role: 'disk' as const, target: 'vda', destinationPath: '/dst/web01-standby-vda.qcow2' },
    { role: 'backing' as const, target: 'vda', destinationPath: '/dst/base.qcow2' },
    { role: 'nvram' as const, target: 'nvram', destinationPath: '/dst/web01-standby_VARS.fd' },
  ];

  it('keeps the target identity: name, UUID, its MACs (new ones for new interfaces), paths, pools and networks', () => {
    const rewrite = syncRewrite({
      targetName: 'web01-standby',
      preserveMac: false,
      sourceXml: source,
      targetXml: target,
      files,
      random: () => 0.5,
    });
    expect(rewrite).toEqual({
      newName: 'web01-standby',
      uuid: '22222222-2222-2222-2222-222222222222',
      diskPaths: { vda: '/dst/web01-standby-vda.qcow2' },
      logDir: '/dst',
      networkMap: { prod: 'standby' },
      volumeDisks: { vdb: { pool: 'fast', volume: 'web01-standby-data' } },
      macAddresses: ['52:54:00:00:00:aa', '52:54:00:80:80:80'],
      nvramPath: '/dst/web01-standby_VARS.fd',
    });
  });

  it('leaves the source MACs alone with preserveMac', () => {
    expect(
      syncRewrite({
        targetName: 'web01-standby',
        preserveMac: true,
        sourceXml: source,
        targetXml: target,
        files,
        random: () => 0,
      }).macAddresses,
    ).toBeUndefined();
  });
});
