import { describe, expect, it } from 'vitest';
import {
  cloneLogPath,
  cloneLogPaths,
  graphicsPasswordCount,
  isValidDiskTarget,
  parseDomainXml,
  rewriteDomainForClone,
  withGraphicsPasswords,
  withoutGraphicsPasswords,
  type CloneRewrite,
} from '../../../src/domain/domain-xml';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import { autoFirmwareXml, uefiXml } from './fixtures/domains';

/** Roughly what `virsh dumpxml --inactive web` prints. */
const sourceXml = `<domain type='kvm'>
  <name>web</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <memory unit='KiB'>2097152</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-8.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/web.qcow2'/>
      <backingStore/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/srv/data/web-data.img'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/srv/iso/debian-12.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:6b:3c:58'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <interface type='bridge'>
      <source bridge='br0'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='/var/log/libvirt/qemu/web-serial0.log'/>
      <target type='isa-serial' port='0'/>
    </serial>
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/web-serial1.log' append='on'/>
      <target type='isa-serial' port='1'/>
    </serial>
    <console type='file'>
      <source path='/var/log/libvirt/qemu/web-serial0.log'/>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
`;

const rewrite: CloneRewrite = {
  newName: 'web-clone',
  diskPaths: { vda: '/pool/web-clone-vda.qcow2', vdb: '/pool/web-clone-vdb.img' },
  macAddresses: ['52:54:00:00:00:01', '52:54:00:00:00:02'],
  logDir: '/var/log/clones',
};

function expectLibvirtError(run: () => unknown): KvmCloneError {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(KvmCloneError);
  expect((thrown as KvmCloneError).code).toBe(ErrorCode.LIBVIRT_ERROR);
  return thrown as KvmCloneError;
}

describe('parseDomainXml', () => {
  it('summarises name, uuid, machine, disks, interfaces and log files', () => {
    expect(parseDomainXml(sourceXml)).toEqual({
      name: 'web',
      uuid: '4dea22b3-1d52-d8f3-2516-782e98ab3fa0',
      domainType: 'kvm',
      arch: 'x86_64',
      machine: 'pc-q35-8.2',
      emulator: '/usr/bin/qemu-system-x86_64',
      disks: [
        {
          target: 'vda',
          device: 'disk',
          type: 'file',
          format: 'qcow2',
          sourcePath: '/var/lib/libvirt/images/web.qcow2',
          readonly: false,
        },
        {
          target: 'vdb',
          device: 'disk',
          type: 'file',
          format: 'raw',
          sourcePath: '/srv/data/web-data.img',
          readonly: false,
        },
        {
          target: 'sda',
          device: 'cdrom',
          type: 'file',
          format: 'raw',
          sourcePath: '/srv/iso/debian-12.iso',
          readonly: true,
        },
      ],
      interfaces: [
        { type: 'network', mac: '52:54:00:6b:3c:58', source: 'default' },
        { type: 'bridge', source: 'br0' },
      ],
      logFiles: ['/var/log/libvirt/qemu/web-serial0.log', '/var/log/libvirt/qemu/web-serial1.log'],
    });
  });

  it('reads block disks by their dev and leaves out what is absent', () => {
    const summary = parseDomainXml(`<domain type='qemu'><name> lean </name><devices>
      <disk type='block' device='disk'><source dev='/dev/vg/lv'/><target dev='vdc'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc'/></disk>
    </devices></domain>`);
    expect(summary).toEqual({
      name: 'lean',
      domainType: 'qemu',
      disks: [
        { target: 'vdc', device: 'disk', type: 'block', sourcePath: '/dev/vg/lv', readonly: false },
        { target: 'hdc', device: 'cdrom', type: 'file', readonly: false },
      ],
      interfaces: [],
      logFiles: [],
    });
  });

  it.each([
    ['a non-domain root', '<network><name>default</name></network>'],
    ['an undefined entity', '<domain><name>a &bogus; b</name></domain>'],
    ['a bare < in text', '<domain><name>a < b</name></domain>'],
  ])('rejects %s with LIBVIRT_ERROR', (_what, xml) => {
    expect(expectLibvirtError(() => parseDomainXml(xml)).message).toMatch(/not a libvirt domain XML document/);
  });

  // xmldom throws its own ParseError for fatal errors; parse() in domain-xml.ts does not catch it.
  it.each([
    ['mismatched tags', '<domain><name>web</domain>'],
    ['an unclosed root', '<domain><name>web</name>'],
    ['an empty document', ''],
    ['text that is not XML', 'error: failed to get domain'],
    ['a duplicated attribute', "<domain type='kvm' type='qemu'/>"],
  ])('rejects %s with LIBVIRT_ERROR, not a raw parser error', (_what, xml) => {
    expectLibvirtError(() => parseDomainXml(xml));
    expectLibvirtError(() => rewriteDomainForClone(xml, rewrite));
  });
});

describe('rewriteDomainForClone', () => {
  const cloneXml = rewriteDomainForClone(sourceXml, rewrite);
  const clone = parseDomainXml(cloneXml);

  it('renames the domain and drops the uuid so libvirt makes a new one', () => {
    expect(clone.name).toBe('web-clone');
    expect(clone.uuid).toBeUndefined();
    expect(cloneXml).not.toContain('<uuid');
    expect(cloneXml).not.toContain('4dea22b3');
  });

  it('points copied disks at their targets, drops backing stores and leaves the cdrom alone', () => {
    expect(clone.disks.map((disk) => [disk.target, disk.sourcePath, disk.format])).toEqual([
      ['vda', '/pool/web-clone-vda.qcow2', 'qcow2'],
      ['vdb', '/pool/web-clone-vdb.img', 'raw'],
      ['sda', '/srv/iso/debian-12.iso', 'raw'],
    ]);
    expect(clone.disks[2]!.readonly).toBe(true);
    expect(cloneXml).not.toContain('backingStore');
    expect(cloneXml).not.toContain('/var/lib/libvirt/images/web.qcow2');
  });

  it('replaces MACs in interface order and adds one where the source had none', () => {
    expect(clone.interfaces).toEqual([
      { type: 'network', mac: '52:54:00:00:00:01', source: 'default' },
      { type: 'bridge', mac: '52:54:00:00:00:02', source: 'br0' },
    ]);
    expect(cloneXml).not.toContain('52:54:00:6b:3c:58');
  });

  it("keeps the source's MACs when no new ones are given", () => {
    const { macAddresses: _dropped, ...keepMacs } = rewrite;
    const kept = parseDomainXml(rewriteDomainForClone(sourceXml, keepMacs));
    expect(kept.interfaces).toEqual([
      { type: 'network', mac: '52:54:00:6b:3c:58', source: 'default' },
      { type: 'bridge', source: 'br0' },
    ]);
  });

  it('moves serial, console and log files into logDir under the new name', () => {
    expect(clone.logFiles).toEqual([
      '/var/log/clones/web-clone-web-serial0.log',
      '/var/log/clones/web-clone-web-serial1.log',
    ]);
    expect(cloneXml).not.toContain('/var/log/libvirt');
    // serial and console still share one file
    expect(cloneXml.match(/\/var\/log\/clones\/web-clone-web-serial0\.log/g)).toHaveLength(2);
  });

  it('keeps everything else as the source had it', () => {
    expect(clone).toMatchObject({
      domainType: 'kvm',
      arch: 'x86_64',
      machine: 'pc-q35-8.2',
      emulator: '/usr/bin/qemu-system-x86_64',
    });
    expect(cloneXml).toMatch(/<memory unit="KiB">2097152<\/memory>/);
    expect(cloneXml).toMatch(/<vcpu placement="static">2<\/vcpu>/);
    expect(cloneXml).toMatch(/<boot dev="hd"\/>/);
  });

  it('does not modify its input and is repeatable', () => {
    expect(parseDomainXml(sourceXml).name).toBe('web');
    expect(rewriteDomainForClone(sourceXml, rewrite)).toBe(cloneXml);
  });

  it('escapes XML-special characters in names and paths so they parse back unchanged', () => {
    const newName = `db & <cache> "prod" 'eu'`;
    const diskPath = `/pool/a&b <"quoted"> 'x'.qcow2`;
    const logDir = `/logs/&<"'>`;
    const xml = rewriteDomainForClone(sourceXml, { newName, diskPaths: { vda: diskPath }, logDir });
    expect(xml).not.toContain('<cache>');
    expect(xml).not.toMatch(/&(?!amp;|lt;|gt;|quot;|apos;)/);

    const parsed = parseDomainXml(xml);
    expect(parsed.name).toBe(newName);
    expect(parsed.disks[0]!.sourcePath).toBe(diskPath);
    expect(parsed.disks[1]!.sourcePath).toBe('/srv/data/web-data.img');
    expect(parsed.logFiles).toEqual([`${logDir}/${newName}-web-serial0.log`, `${logDir}/${newName}-web-serial1.log`]);
  });

  it('reads special characters from the source XML too', () => {
    const xml = sourceXml.replace('<name>web</name>', '<name>a &amp; b &lt;c&gt;</name>');
    expect(parseDomainXml(xml).name).toBe('a & b <c>');
  });

  it('refuses a domain without a name', () => {
    const error = expectLibvirtError(() => rewriteDomainForClone('<domain type="kvm"><devices/></domain>', rewrite));
    expect(error.message).toMatch(/no <name>/);
  });
});

describe('cloneLogPath', () => {
  it('prefixes the source file name with the new name inside logDir', () => {
    expect(cloneLogPath('/var/log/clones', 'web2', '/var/log/libvirt/qemu/web.log')).toBe(
      '/var/log/clones/web2-web.log',
    );
    expect(cloneLogPath('/var/log/clones//', 'web2', 'console.log')).toBe('/var/log/clones/web2-console.log');
  });
});

describe('cloneLogPaths', () => {
  it("lists each serial and console log file once, where the clone's definition puts it", () => {
    expect(cloneLogPaths(sourceXml, '/srv/vms', 'web2')).toEqual([
      '/srv/vms/web2-web-serial0.log',
      '/srv/vms/web2-web-serial1.log',
    ]);
  });
});

describe('parseDomainXml on a UEFI guest', () => {
  const summary = parseDomainXml(uefiXml);

  it('exposes loader, NVRAM file and template, machine and emulator', () => {
    expect(summary).toMatchObject({
      name: 'win11',
      uuid: '0c7a1f5e-9b7d-4b65-a0a8-6d7f0c6f2d11',
      domainType: 'kvm',
      arch: 'x86_64',
      machine: 'pc-q35-8.2',
      emulator: '/usr/bin/qemu-system-x86_64',
      loaderPath: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd',
      nvramPath: '/var/lib/libvirt/qemu/nvram/win11_VARS.fd',
      nvramTemplate: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
    });
    expect(summary.firmware).toBeUndefined();
  });

  it('reads the emulated TPM with its model and version', () => {
    expect(summary.tpm).toEqual({ model: 'tpm-crb', backend: 'emulator', version: '2.0' });
  });

  it('reads a pool volume by pool and volume, with no path until the caller resolves one', () => {
    expect(summary.disks[0]).toEqual({
      target: 'sda',
      device: 'disk',
      type: 'volume',
      format: 'qcow2',
      pool: 'default',
      volume: 'win11.qcow2',
      readonly: false,
    });
  });

  it('reads CD-ROMs with and without media', () => {
    expect(summary.disks.slice(2)).toEqual([
      {
        target: 'sdc',
        device: 'cdrom',
        type: 'file',
        format: 'raw',
        sourcePath: '/srv/iso/virtio-win.iso',
        readonly: true,
      },
      { target: 'sdd', device: 'cdrom', type: 'file', format: 'raw', readonly: true },
    ]);
  });

  it('reads network, bridge and user interfaces', () => {
    expect(summary.interfaces).toEqual([
      { type: 'network', mac: '52:54:00:12:34:56', source: 'lan' },
      { type: 'bridge', mac: '52:54:00:12:34:57', source: 'br-storage' },
      { type: 'user', mac: '52:54:00:12:34:58' },
    ]);
  });

  it("reads libvirt 9's firmware autoselection and <nvram><source file/> form, and a passthrough TPM", () => {
    expect(parseDomainXml(autoFirmwareXml)).toMatchObject({
      firmware: 'efi',
      loaderPath: '/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd',
      nvramPath: '/var/lib/libvirt/qemu/nvram/edge_VARS.fd',
      nvramTemplate: '/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd',
      tpm: { model: 'tpm-tis', backend: 'passthrough' },
    });
  });

  it('leaves firmware fields and tpm out of a BIOS guest', () => {
    const bios = parseDomainXml(sourceXml);
    for (const key of ['firmware', 'loaderPath', 'nvramPath', 'nvramTemplate', 'tpm'])
      expect(bios).not.toHaveProperty(key);
  });

  it('reads an NVRAM without a path, as firmware autoselection may leave it', () => {
    const summary = parseDomainXml(
      `<domain type='kvm'><name>x</name><os firmware='efi'><nvram template='/t.fd'/></os></domain>`,
    );
    expect(summary).toMatchObject({ firmware: 'efi', nvramTemplate: '/t.fd' });
    expect(summary).not.toHaveProperty('nvramPath');
  });
});

describe('rewriteDomainForClone for a complete clone', () => {
  const base: CloneRewrite = { newName: 'win11-b', diskPaths: {}, logDir: '/var/log/clones' };

  function rewritten(
    options: Partial<CloneRewrite>,
    xml = uefiXml,
  ): { xml: string; summary: ReturnType<typeof parseDomainXml> } {
    const out = rewriteDomainForClone(xml, { ...base, ...options });
    return { xml: out, summary: parseDomainXml(out) };
  }

  describe('networks', () => {
    it('maps network and bridge sources and keeps portgroup, model and the user interface', () => {
      const { xml, summary } = rewritten({ networkMap: { lan: 'prod-lan', 'br-storage': 'br1' } });
      expect(summary.interfaces.map((iface) => [iface.type, iface.source])).toEqual([
        ['network', 'prod-lan'],
        ['bridge', 'br1'],
        ['user', undefined],
      ]);
      expect(xml).toContain('<source network="prod-lan" portgroup="vlan10"/>');
      expect(xml).toMatch(/<interface type="user">\s*<mac address="52:54:00:12:34:58"\/>/);
    });

    it('leaves unmapped names, and maps by attribute of the interface type only', () => {
      const { summary } = rewritten({ networkMap: { 'br-storage': 'br1', lan: 'lan', unused: 'x' } });
      expect(summary.interfaces.map((iface) => iface.source)).toEqual(['lan', 'br1', undefined]);
    });

    it('does not map through inherited keys', () => {
      const xml = uefiXml.replace("network='lan'", "network='constructor'");
      const { summary } = rewritten({ networkMap: {} }, xml);
      expect(summary.interfaces[0]!.source).toBe('constructor');
    });

    it('leaves direct interfaces alone even when their device name is mapped', () => {
      const xml = `<domain type='kvm'><name>d</name><devices><interface type='direct'><source dev='eth0' mode='bridge'/></interface></devices></domain>`;
      expect(rewriteDomainForClone(xml, { ...base, networkMap: { eth0: 'eth1' } })).toContain(
        '<source dev="eth0" mode="bridge"/>',
      );
    });
  });

  describe('UEFI NVRAM', () => {
    it('points the NVRAM at the given path and keeps template and loader', () => {
      const { xml, summary } = rewritten({ nvramPath: '/var/lib/libvirt/qemu/nvram/win11-b_VARS.fd' });
      expect(summary).toMatchObject({
        nvramPath: '/var/lib/libvirt/qemu/nvram/win11-b_VARS.fd',
        nvramTemplate: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
        loaderPath: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd',
      });
      expect(xml).not.toContain('win11_VARS.fd');
    });

    it("turns libvirt 9's <source> form into the text form and keeps its format", () => {
      const { xml, summary } = rewritten({ newName: 'edge-b', nvramPath: '/nvram/edge-b_VARS.fd' }, autoFirmwareXml);
      expect(summary.nvramPath).toBe('/nvram/edge-b_VARS.fd');
      expect(xml).toContain(
        '<nvram template="/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd" format="raw">/nvram/edge-b_VARS.fd</nvram>',
      );
    });

    it("clears the source's NVRAM path when none is given, keeping the template for libvirt", () => {
      for (const source of [uefiXml, autoFirmwareXml]) {
        const { xml, summary } = rewritten({}, source);
        expect(summary).not.toHaveProperty('nvramPath');
        expect(summary.nvramTemplate).toBeDefined();
        expect(xml).not.toContain('_VARS.fd<');
        expect(xml).not.toContain('<source file="/var/lib/libvirt/qemu/nvram');
      }
    });

    it('drops an NVRAM element that is left with nothing in it', () => {
      const xml = `<domain type='kvm'><name>x</name><os>
    <loader readonly='yes' type='pflash'>/c.fd</loader>
    <nvram>/var/lib/libvirt/qemu/nvram/x_VARS.fd</nvram>
  </os></domain>`;
      const out = rewriteDomainForClone(xml, base);
      expect(out).not.toContain('nvram');
      expect(out).toContain('<loader readonly="yes" type="pflash">/c.fd</loader>\n  </os>');
    });

    it('refuses an NVRAM path for a domain without NVRAM', () => {
      let thrown: unknown;
      try {
        rewriteDomainForClone(sourceXml, { ...rewrite, nvramPath: '/nvram/x_VARS.fd' });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(KvmCloneError);
      expect((thrown as KvmCloneError).code).toBe(ErrorCode.VALIDATION_ERROR);
    });
  });

  describe('UUID', () => {
    it("sets the given UUID in place of the source's, right after the name", () => {
      const uuid = '9f1c2b3a-4d5e-4f60-8a7b-0c1d2e3f4a5b';
      const { xml, summary } = rewritten({ uuid });
      expect(summary.uuid).toBe(uuid);
      expect(xml).not.toContain('0c7a1f5e');
      expect(xml).toContain(`<name>win11-b</name>\n  <uuid>${uuid}</uuid>\n  <memory`);
    });

    it('adds the UUID when the source had none', () => {
      const xml = rewriteDomainForClone(`<domain type='kvm'><name>x</name></domain>`, {
        ...base,
        uuid: '9F1C2B3A-4D5E-4F60-8A7B-0C1D2E3F4A5B',
      });
      expect(xml).toBe(
        '<domain type="kvm"><name>win11-b</name><uuid>9F1C2B3A-4D5E-4F60-8A7B-0C1D2E3F4A5B</uuid></domain>',
      );
    });

    it.each(['', 'not-a-uuid', '9f1c2b3a4d5e4f608a7b0c1d2e3f4a5b', '9f1c2b3a-4d5e-4f60-8a7b-0c1d2e3f4a5b</uuid>'])(
      'refuses %j as a UUID',
      (uuid) => {
        let thrown: unknown;
        try {
          rewriteDomainForClone(uefiXml, { ...base, uuid });
        } catch (error) {
          thrown = error;
        }
        expect((thrown as KvmCloneError).code).toBe(ErrorCode.VALIDATION_ERROR);
      },
    );
  });

  describe('disks', () => {
    it('makes a copied pool volume a file disk at its new path, without pool, volume or backing store', () => {
      const { xml, summary } = rewritten({ diskPaths: { sda: '/images/win11-b-sda.qcow2' } });
      expect(summary.disks[0]).toEqual({
        target: 'sda',
        device: 'disk',
        type: 'file',
        format: 'qcow2',
        sourcePath: '/images/win11-b-sda.qcow2',
        readonly: false,
      });
      expect(xml).toContain('<source file="/images/win11-b-sda.qcow2"/>');
      expect(xml).not.toContain('pool=');
      expect(xml).not.toContain('backingStore');
      expect(xml).toContain('<boot order="1"/>');
    });

    it('makes any copied disk a pool volume when the destination is a pool, winning over diskPaths', () => {
      const { xml, summary } = rewritten({
        diskPaths: { sda: '/ignored.qcow2', sdb: '/ignored.img' },
        volumeDisks: {
          sda: { pool: 'fast', volume: 'win11-b-sda.qcow2' },
          sdb: { pool: 'fast', volume: 'win11-b-sdb.img' },
        },
      });
      expect(summary.disks.slice(0, 2)).toEqual([
        {
          target: 'sda',
          device: 'disk',
          type: 'volume',
          format: 'qcow2',
          pool: 'fast',
          volume: 'win11-b-sda.qcow2',
          readonly: false,
        },
        {
          target: 'sdb',
          device: 'disk',
          type: 'volume',
          format: 'raw',
          pool: 'fast',
          volume: 'win11-b-sdb.img',
          readonly: false,
        },
      ]);
      expect(xml).not.toContain('/ignored');
      expect(xml).not.toContain('/srv/scratch');
    });

    it('drops an iSCSI volume mode along with the old pool', () => {
      const xml = uefiXml.replace(
        "<source pool='default' volume='win11.qcow2'/>",
        "<source pool='iscsi' volume='unit:0:0:1' mode='host'/>",
      );
      expect(rewritten({ volumeDisks: { sda: { pool: 'fast', volume: 'v' } } }, xml).xml).toContain(
        '<source pool="fast" volume="v"/>',
      );
      expect(rewritten({ diskPaths: { sda: '/images/v.img' } }, xml).xml).toContain('<source file="/images/v.img"/>');
    });

    it('makes a copied block device a file disk at its new path, in the format the XML declared', () => {
      const xml = uefiXml
        .replace("<disk type='volume' device='disk'>", "<disk type='block' device='disk'>")
        .replace(
          "<source pool='default' volume='win11.qcow2'/>",
          "<source dev='/dev/vg0/win11'><reservations managed='yes'/></source>",
        );
      expect(parseDomainXml(xml).disks[0]).toMatchObject({ type: 'block', sourcePath: '/dev/vg0/win11' });
      const out = rewritten({ diskPaths: { sda: '/images/win11-b-sda.qcow2' } }, xml);
      expect(out.summary.disks[0]).toEqual({
        target: 'sda',
        device: 'disk',
        type: 'file',
        format: 'qcow2',
        sourcePath: '/images/win11-b-sda.qcow2',
        readonly: false,
      });
      expect(out.xml).not.toContain('/dev/vg0');
      expect(out.xml).not.toContain('reservations');
    });

    it('points a copied CD-ROM at its copy, still read-only and raw', () => {
      const { summary } = rewritten({ diskPaths: { sdc: '/images/win11-b-sdc.iso' } });
      expect(summary.disks[2]).toEqual({
        target: 'sdc',
        device: 'cdrom',
        type: 'file',
        format: 'raw',
        sourcePath: '/images/win11-b-sdc.iso',
        readonly: true,
      });
    });

    it('keeps CD-ROM media referenced by default, and an empty drive empty even if mapped', () => {
      const { summary } = rewritten({ diskPaths: { sdd: '/images/nothing.iso' } });
      expect(summary.disks[2]!.sourcePath).toBe('/srv/iso/virtio-win.iso');
      expect(summary.disks[3]).toEqual({ target: 'sdd', device: 'cdrom', type: 'file', format: 'raw', readonly: true });
    });

    it('removes excluded disks without leaving blank lines', () => {
      const { xml, summary } = rewritten({ removeDisks: ['sdb', 'sdd'] });
      expect(summary.disks.map((disk) => disk.target)).toEqual(['sda', 'sdc']);
      expect(xml).not.toContain('/srv/scratch');
      expect(xml).not.toMatch(/\n\s*\n/);
    });

    it('keeps the TPM, loader and features as they were', () => {
      const { xml, summary } = rewritten({});
      expect(summary.tpm).toEqual({ model: 'tpm-crb', backend: 'emulator', version: '2.0' });
      expect(xml).toContain('<smm state="on"/>');
      expect(summary.uuid).toBeUndefined();
    });
  });
});

describe('disk targets', () => {
  const withTarget = (target: string) =>
    sourceXml.replace("<target dev='vda' bus='virtio'/>", `<target dev='${target}' bus='virtio'/>`);

  it('accepts the device names libvirt uses', () => {
    for (const target of ['vda', 'vdaa', 'sdb', 'hdc', 'xvda', 'fda', 'ubda', 'nvme0n1', 'mmcblk0'])
      expect(isValidDiskTarget(target)).toBe(true);
    expect(parseDomainXml(withTarget('sdz')).disks[0]!.target).toBe('sdz');
  });

  it.each(['a/../../../../etc/cron.d/pwn', 'vda/../x', '../vda', 'vda.', 'VDA', 'vd', '', 'foo', 'vda b'])(
    'attack: refuses target %j with 1302 naming it',
    (target) => {
      expect(() => parseDomainXml(withTarget(target))).toThrow(
        expect.objectContaining({
          code: ErrorCode.INVALID_PATH,
          message: expect.stringContaining(JSON.stringify(target)),
        }),
      );
    },
  );
});

describe('backing formats declared in the XML', () => {
  it('lists the formats of the <backingStore> chain, top down', () => {
    const xml = sourceXml.replace(
      '<backingStore/>',
      "<backingStore type='file'><format type='qcow2'/><source file='/b1'/><backingStore type='file'><source file='/b2'/><backingStore/></backingStore></backingStore>",
    );
    expect(parseDomainXml(xml).disks[0]!.backingFormats).toEqual(['qcow2', undefined]);
    expect(parseDomainXml(sourceXml).disks[0]!.backingFormats).toBeUndefined();
  });
});

describe('graphics passwords', () => {
  const secured = sourceXml.replace(
    '<devices>',
    "<devices><graphics type='vnc' port='-1' passwd='s3cret' passwdValidTo='2030-01-01T00:00:00'/><graphics type='spice' passwd='sp1ce'/>",
  );
  const plain = sourceXml.replace('<devices>', "<devices><graphics type='vnc' port='-1'/><graphics type='spice'/>");

  it('counts, strips and restores them by position and type', () => {
    expect(graphicsPasswordCount(secured)).toBe(2);
    expect(graphicsPasswordCount(plain)).toBe(0);
    expect(withoutGraphicsPasswords(secured)).not.toMatch(/passwd/);
    const restored = withGraphicsPasswords(plain, secured);
    expect(restored).toContain('passwd="s3cret"');
    expect(restored).toContain('passwd="sp1ce"');
    // A graphics of another type at that position gets nothing.
    expect(withGraphicsPasswords(plain.replace("type='vnc'", "type='rdp'"), secured)).not.toContain('s3cret');
  });
});
