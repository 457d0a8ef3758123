import { describe, expect, it } from 'vitest';
import {
  domainPolicyViolations,
  enforceDomainPolicy,
  type DomainPolicyContext,
} from '../../../src/domain/domain-policy';
import { DEFAULT_WORKER_POLICY, type HostReachingDevice } from '../../../src/domain/schemas/worker-policy';
import { ErrorCode } from '../../../src/errors';

const roots = ['/var/lib/libvirt/images'];

/** A domain with the devices every plain VM has, plus `devices` and `os` extras. */
function domain(devices = '', os = '', extra = ''): string {
  return `<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>web</name>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>/usr/share/guest/vmlinuz</kernel>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>${os}
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/web.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'><source network='default'/><model type='virtio'/></interface>
    <interface type='bridge'><source bridge='br0'/></interface>
    <interface type='user'/>
    <graphics type='vnc' port='-1'/>
    <video><model type='virtio'/></video>
    <input type='tablet' bus='usb'/>
    <sound model='ich9'/>
    <controller type='usb' model='qemu-xhci'/>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
    <channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='virtio'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>
    <watchdog model='i6300esb'/>
    <panic model='isa'/>
    <vsock model='virtio'><cid auto='yes'/></vsock>${devices}
  </devices>${extra}
</domain>`;
}

const context = (
  allowDevices: HostReachingDevice[] = [],
  extra: Partial<DomainPolicyContext> = {},
): DomainPolicyContext => ({
  policy: { ...DEFAULT_WORKER_POLICY, allowDevices },
  writableRoots: roots,
  ...extra,
});

const elements = (xml: string, ctx = context()) =>
  domainPolicyViolations(xml, ctx).map((violation) => violation.element);

describe('domainPolicyViolations', () => {
  it('passes a domain of devices that stay inside the guest', () => {
    expect(domainPolicyViolations(domain(), context())).toEqual([]);
  });

  it.each([
    [
      'hostdev',
      `<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>`,
      '<hostdev>',
    ],
    [
      'filesystem',
      `<filesystem type='mount'><source dir='/'/><target dir='hostroot'/></filesystem>`,
      '<filesystem> hostroot',
    ],
    [
      'lun',
      `<disk type='block' device='lun'><source dev='/dev/sda'/><target dev='sdb' bus='scsi'/></disk>`,
      "<disk type='block' device='lun'> sdb",
    ],
    [
      'floppy',
      `<disk type='file' device='floppy'><source file='/var/lib/libvirt/images/f.img'/><target dev='fda'/></disk>`,
      "<disk type='file' device='floppy'> fda",
    ],
    ['smartcard', `<smartcard mode='host'/>`, '<smartcard>'],
    ['redirdev', `<redirdev bus='usb' type='spicevmc'/>`, '<redirdev>'],
    ['shmem', `<shmem name='ivshmem'><model type='ivshmem-plain'/></shmem>`, '<shmem>'],
    [
      'interface-direct',
      `<interface type='direct'><source dev='eth0' mode='bridge'/></interface>`,
      "<interface type='direct'>",
    ],
    [
      'interface-ethernet',
      `<interface type='ethernet'><script path='/etc/qemu-ifup'/></interface>`,
      "<interface type='ethernet'>",
    ],
    [
      'interface-hostdev',
      `<interface type='hostdev'><source><address type='pci' bus='2'/></source></interface>`,
      "<interface type='hostdev'>",
    ],
    ['serial-file', `<serial type='dev'><source path='/dev/ttyS0'/></serial>`, "<serial type='dev'>"],
    [
      'serial-file',
      `<channel type='unix'><source mode='connect' path='/var/run/docker.sock'/><target type='virtio' name='x'/></channel>`,
      "<channel type='unix'>",
    ],
    ['serial-file', `<parallel type='file'><source path='/etc/passwd'/></parallel>`, "<parallel type='file'>"],
    [
      'serial-file',
      `<serial type='tcp'><source mode='connect' host='169.254.169.254' service='80'/></serial>`,
      "<serial type='tcp'>",
    ],
  ] as const)('refuses %s (%s) unless policy.allowDevices has it', (kind, xml, element) => {
    const [violation] = domainPolicyViolations(domain(xml), context());
    expect(violation).toMatchObject({
      element,
      remedy: `allow it in the worker's config with policy.allowDevices: ['${kind}']`,
    });
    expect(domainPolicyViolations(domain(xml), context([kind]))).toEqual([]);
  });

  it('refuses qemu command lines and other hypervisor namespaces, but not metadata', () => {
    const commandline = `<qemu:commandline><qemu:arg value='-device'/><qemu:arg value='vfio-pci,host=01:00.0'/></qemu:commandline>`;
    expect(elements(domain('', '', commandline))).toEqual(['<qemu:commandline>']);
    expect(elements(domain('', '', commandline), context(['qemu:commandline']))).toEqual([]);
    expect(elements(domain('', '', `<lxc:namespace xmlns:lxc='http://libvirt.org/schemas/domain/lxc/1.0'/>`))).toEqual([
      '<lxc:namespace>',
    ]);
    expect(elements(domain('', '', `<metadata><app:x xmlns:app='urn:app'/></metadata>`))).toEqual([]);
  });

  it('refuses device elements it does not know, and host devices hidden in known ones', () => {
    expect(elements(domain(`<memory model='nvdimm'><source><path>/dev/pmem0</path></source></memory>`))).toEqual([
      '<memory>',
    ]);
    expect(elements(domain(`<input type='evdev'><source dev='/dev/input/event0'/></input>`))).toEqual([
      "<input type='evdev'>",
    ]);
    expect(elements(domain(`<tpm><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>`))).toEqual([
      "<tpm backend='passthrough'>",
    ]);
    expect(elements(domain(`<rng model='virtio'><backend model='random'>/dev/sda</backend></rng>`))).toEqual([
      '<rng> /dev/sda',
    ]);
    expect(elements(domain(`<interface type='vhostuser'/>`))).toEqual(["<interface type='vhostuser'>"]);
    expect(
      elements(domain(`<disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='hdc'/></disk>`)),
    ).toEqual(["<disk type='block' device='cdrom'> hdc"]);
  });

  it('refuses an emulator that is not a qemu binary, or lies where clones write', () => {
    const withEmulator = (file: string) => domain().replace('/usr/bin/qemu-system-x86_64', file);
    expect(elements(withEmulator('/tmp/evil'))).toEqual(['<emulator>']);
    expect(elements(withEmulator('/var/lib/libvirt/images/qemu-system-x86_64'))).toEqual(['<emulator>']);
    expect(elements(withEmulator('/usr/bin/../../tmp/qemu-kvm'))).toEqual(['<emulator>']);
    expect(elements(withEmulator('/usr/libexec/qemu-kvm'))).toEqual([]);
    expect(elements(withEmulator('/opt/qemu/bin/qemu-system-aarch64'))).toEqual([]);
  });

  it('checks host files against hostFiles and the writable roots, normalised', () => {
    const cdrom = (file: string) =>
      `<disk type='file' device='cdrom'><source file='${file}'/><target dev='hdc' bus='ide'/><readonly/></disk>`;
    expect(elements(domain(cdrom('/usr/share/iso/debian.iso')))).toEqual([]);
    expect(elements(domain(cdrom('/var/lib/libvirt/images/media.iso')))).toEqual([]);
    expect(elements(domain(cdrom('/etc/shadow')))).toEqual(["<disk type='file' device='cdrom'> hdc"]);
    expect(elements(domain(cdrom('/usr/share/../../etc/shadow')))).toEqual(["<disk type='file' device='cdrom'> hdc"]);
    expect(domainPolicyViolations(domain(cdrom('/etc/shadow')), context())[0]!.remedy).toContain('copyCdroms');
    expect(elements(domain('', `<initrd>/root/initrd</initrd><dtb>/boot/x.dtb</dtb>`))).toEqual([
      '<os><initrd>',
      '<os><dtb>',
    ]);
    expect(elements(domain('', `<nvram template='/etc/shadow'>/var/lib/libvirt/images/web_VARS.fd</nvram>`))).toEqual([
      '<os><nvram template>',
    ]);
    expect(elements(domain('', `<acpi><table type='slic'>/etc/shadow</table></acpi>`))).toEqual(['<os><acpi><table>']);
    // hostFiles widen what is allowed.
    expect(
      elements(domain(cdrom('/srv/iso/x.iso')), {
        ...context(),
        policy: { allowDevices: [], hostFiles: ['/usr/share', '/srv/iso'] },
      }),
    ).toEqual([]);
  });

  it('before the rewrite, skips copied and excluded disks and paths the clone moves; after it, checks them', () => {
    const data = `<disk type='file' device='disk'><source file='/srv/data.img'/><target dev='vdb'/></disk>`;
    const serial = `<serial type='file'><source path='/srv/console.log'/><log file='/srv/x.log'/></serial>`;
    const before = context([], { selection: { excludeDisks: [], copiedTargets: ['vda', 'vdb'] } });
    expect(elements(domain(data + serial), before)).toEqual([]);
    expect(elements(domain(data + serial))).toEqual([
      "<disk type='file' device='disk'> vdb",
      '<serial> <log>',
      "<serial type='file'>",
    ]);
    const excluded = context([], { selection: { excludeDisks: ['sdb'], copiedTargets: [] } });
    expect(
      elements(domain(`<disk type='block' device='lun'><source dev='/dev/sda'/><target dev='sdb'/></disk>`), excluded),
    ).toEqual([]);
  });

  it('passes a block-device disk the clone copies (it lands as a file), refuses one it would open in place', () => {
    const lv = `<disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/vg0/data'/><target dev='vdb'/></disk>`;
    const copied = context([], { selection: { excludeDisks: [], copiedTargets: ['vda', 'vdb'] } });
    expect(elements(domain(lv), copied)).toEqual([]);
    // Not among the copied disks (a final XML, or a selection without it): the destination would open the device.
    expect(elements(domain(lv))).toEqual(["<disk type='block' device='disk'> vdb"]);
    expect(elements(domain(lv), context([], { selection: { excludeDisks: [], copiedTargets: ['vda'] } }))).toEqual([
      "<disk type='block' device='disk'> vdb",
    ]);
    // A LUN or a host CD-ROM drive is hardware: never copied, still refused.
    const lun = `<disk type='block' device='lun'><source dev='/dev/sdb'/><target dev='sdb' bus='scsi'/></disk>`;
    expect(elements(domain(lun), { ...copied, selection: { excludeDisks: [], copiedTargets: ['sdb'] } })).toEqual([
      "<disk type='block' device='lun'> sdb",
    ]);
  });

  it('refuses network disks (rbd, iscsi, nbd) even when listed as copied', () => {
    const copied = context([], { selection: { excludeDisks: [], copiedTargets: ['vda', 'vdb'] } });
    for (const protocol of ['rbd', 'iscsi', 'nbd']) {
      const disk = `<disk type='network' device='disk'><driver type='raw'/><source protocol='${protocol}' name='pool/img'><host name='10.0.0.1'/></source><target dev='vdb'/></disk>`;
      expect(elements(domain(disk), copied)).toEqual(["<disk type='network' device='disk'> vdb"]);
    }
  });

  it('refuses labels that turn confinement off, fw_cfg files and external data files', () => {
    expect(elements(domain('', '', `<seclabel type='none'/>`))).toEqual(["<seclabel type='none'>"]);
    expect(
      elements(
        domain(
          '',
          '',
          `<seclabel type='static' model='selinux'><label>system_u:system_r:unconfined_t:s0</label></seclabel>`,
        ),
      ),
    ).toEqual(["<seclabel type='static'>"]);
    expect(elements(domain('', '', `<seclabel type='dynamic' model='selinux' relabel='yes'/>`))).toEqual([]);
    expect(
      elements(
        domain(
          '',
          '',
          `<sysinfo type='fwcfg'><entry name='opt/x' file='/etc/shadow'/><entry name='opt/y'>text</entry></sysinfo>`,
        ),
      ),
    ).toEqual(["<sysinfo><entry name='opt/x'>"]);
    const dataStore = `<disk type='file' device='disk'><driver type='qcow2'/><source file='/var/lib/libvirt/images/d.qcow2'><dataStore type='block'><format type='raw'/><source dev='/dev/sda'/></dataStore></source><target dev='vdc'/></disk>`;
    expect(elements(domain(dataStore))).toEqual(["<disk type='file' device='disk'> vdc <dataStore>"]);
    const cdromOnShadow = `<disk type='file' device='cdrom'><source file='/usr/share/iso/top.qcow2'/><backingStore type='file'><format type='raw'/><source file='/etc/shadow'/></backingStore><target dev='hdc'/></disk>`;
    expect(elements(domain(cdromOnShadow))).toEqual(["<disk type='file' device='cdrom'> hdc <backingStore>"]);
  });

  it('without writable roots, checks device kinds but no paths', () => {
    const xml = domain(
      `<disk type='file' device='cdrom'><source file='/etc/shadow'/><target dev='hdc'/></disk><hostdev/>`,
    );
    expect(elements(xml, { policy: DEFAULT_WORKER_POLICY })).toEqual(['<hostdev>']);
  });

  it('lets a unix socket be bound only under /tmp or libvirt own directories', () => {
    const channel = (socket: string) =>
      `<channel type='unix'><source mode='bind' path='${socket}'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`;
    expect(elements(domain(channel('/tmp/kvmclone-ga.x')))).toEqual([]);
    expect(elements(domain(channel('/var/lib/libvirt/qemu/channel/x')))).toEqual([]);
    expect(elements(domain(channel('/etc/passwd')))).toEqual(["<channel type='unix'>"]);
    expect(elements(domain(channel('/tmp/../etc/passwd')))).toEqual(["<channel type='unix'>"]);
  });
});

describe('enforceDomainPolicy', () => {
  it('refuses with 1200 naming each element and how to allow it', () => {
    const xml = domain(
      `<hostdev mode='subsystem' type='usb'/><filesystem type='mount'><source dir='/etc'/><target dir='etc'/></filesystem>`,
    );
    expect(() => enforceDomainPolicy(xml, context(), 'web')).toThrow(
      expect.objectContaining({
        code: ErrorCode.CLONE_ERROR,
        message: expect.stringMatching(
          /VM 'web'.*<hostdev>.*policy\.allowDevices: \['hostdev'\].*<filesystem> etc.*policy\.allowDevices: \['filesystem'\]/,
        ),
        details: expect.objectContaining({ elements: ['<hostdev>', '<filesystem> etc'] }),
      }),
    );
    expect(() => enforceDomainPolicy(domain(), context(), 'web')).not.toThrow();
  });
});
