import { describe, expect, it } from 'vitest';
import { cloneLogPath, parseDomainXml, rewriteDomainForClone, type CloneRewrite } from '../../../src/domain/domain-xml';
import { ErrorCode, KvmCloneError } from '../../../src/errors';

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
        { target: 'vda', device: 'disk', type: 'file', format: 'qcow2', sourcePath: '/var/lib/libvirt/images/web.qcow2', readonly: false },
        { target: 'vdb', device: 'disk', type: 'file', format: 'raw', sourcePath: '/srv/data/web-data.img', readonly: false },
        { target: 'sda', device: 'cdrom', type: 'file', format: 'raw', sourcePath: '/srv/iso/debian-12.iso', readonly: true },
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
    expect(clone.logFiles).toEqual(['/var/log/clones/web-clone-web-serial0.log', '/var/log/clones/web-clone-web-serial1.log']);
    expect(cloneXml).not.toContain('/var/log/libvirt');
    // serial and console still share one file
    expect(cloneXml.match(/\/var\/log\/clones\/web-clone-web-serial0\.log/g)).toHaveLength(2);
  });

  it('keeps everything else as the source had it', () => {
    expect(clone).toMatchObject({ domainType: 'kvm', arch: 'x86_64', machine: 'pc-q35-8.2', emulator: '/usr/bin/qemu-system-x86_64' });
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
    expect(cloneLogPath('/var/log/clones', 'web2', '/var/log/libvirt/qemu/web.log')).toBe('/var/log/clones/web2-web.log');
    expect(cloneLogPath('/var/log/clones//', 'web2', 'console.log')).toBe('/var/log/clones/web2-console.log');
  });
});
