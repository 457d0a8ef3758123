import type { Element } from '@xmldom/xmldom';
import { ErrorCode, KvmCloneError } from '../errors';
import type { DiskSelection } from './clone-plan';
import { isUnder, normalizeAbsolutePath } from './paths';
import type { HostReachingDevice, WorkerPolicy } from './schemas/worker-policy';
import { attribute, child, children, isElement, parseDomainDocument, path, textOf } from './xml-dom';

/**
 * What a cloned domain may reach on the destination host. A domain XML comes from the
 * source host, which a guest or an intruder may control; defined on the destination, it
 * would hand the guest whatever it names there: PCI devices, directories, block devices,
 * sockets, files, qemu's command line. Only device kinds known to stay inside the guest
 * pass; the rest need the operator's `policy.allowDevices` (or the disk excluded).
 */

/** One thing the domain XML asks for that the policy does not allow. */
export interface DomainPolicyViolation {
  /** The element, as a reader finds it: `<hostdev>`, `<disk device='lun'> sdb`, `<os><kernel>`. */
  element: string;
  /** Why it reaches the host. */
  reason: string;
  /** What the operator can do about it. */
  remedy: string;
}

export interface DomainPolicyContext {
  policy: Pick<WorkerPolicy, 'allowDevices' | 'hostFiles'>;
  /**
   * Directories the clone may write into on the destination: host files under them count
   * as the clone's own. Absent (when the caller does not know the destination yet) skips
   * the checks of host paths; the device kinds are still checked.
   */
  writableRoots?: readonly string[];
  /**
   * For the source's XML, before the rewrite: which disks the clone copies (their paths
   * change) and which it leaves out. Absent for the final XML, where every path is checked
   * as it stands.
   */
  selection?: DiskSelection & { copiedTargets?: readonly string[] };
}

const QEMU_NAMESPACES = new Set(['http://libvirt.org/schemas/domain/qemu/1.0']);

/** Device elements that stay inside the guest, or whose host side the checks below examine. */
const KNOWN_DEVICES = new Set([
  'emulator',
  'disk',
  'controller',
  'interface',
  'input',
  'graphics',
  'video',
  'sound',
  'audio',
  'memballoon',
  'rng',
  'tpm',
  'watchdog',
  'panic',
  'vsock',
  'iommu',
  'serial',
  'console',
  'channel',
  'parallel',
  'hub',
  'hostdev',
  'filesystem',
  'smartcard',
  'redirdev',
  'shmem',
]);

const SAFE_INTERFACE_TYPES = new Set(['network', 'bridge', 'user']);
/** Character device back ends that stay inside qemu or libvirt: no host path, device or socket named by the XML. */
const SAFE_CHARDEV_TYPES = new Set(['pty', 'null', 'vc', 'spicevmc', 'spiceport', 'qemu-vdagent', 'dbus']);
/** Where a listening socket may be created: qemu unlinks an existing file at the path first. */
const SOCKET_DIRS = ['/tmp', '/run/libvirt', '/var/run/libvirt', '/var/lib/libvirt'];
const SAFE_RNG_DEVICES = new Set(['/dev/urandom', '/dev/random']);
/** qemu's binary names: libvirt runs `<emulator>` on the destination, so nothing else may be named. */
const EMULATOR_NAME = /^(qemu-system-[A-Za-z0-9_]+|qemu-kvm|kvm)$/;

function allowRemedy(kind: HostReachingDevice): string {
  return `allow it in the worker's config with policy.allowDevices: ['${kind}']`;
}

function hostFileRemedy(): string {
  return "add its directory to the worker's policy.hostFiles";
}

/** Collects violations while walking one domain document. */
class PolicyCheck {
  readonly violations: DomainPolicyViolation[] = [];

  constructor(private readonly context: DomainPolicyContext) {}

  private allowed(kind: HostReachingDevice): boolean {
    return this.context.policy.allowDevices.includes(kind);
  }

  /** Refuses `element` unless the operator allows `kind`. */
  hostReaching(kind: HostReachingDevice, element: string, reason: string): void {
    if (!this.allowed(kind)) this.violations.push({ element, reason, remedy: allowRemedy(kind) });
  }

  refuse(element: string, reason: string, remedy: string): void {
    this.violations.push({ element, reason, remedy });
  }

  /** A destination host path the domain opens without the clone having copied it there. */
  hostFile(element: string, file: string | undefined, remedy = hostFileRemedy()): void {
    const roots = this.context.writableRoots;
    if (file === undefined || roots === undefined) return;
    const allowedDirs = [...this.context.policy.hostFiles, ...roots];
    let inside: boolean;
    try {
      inside = file.startsWith('/') && allowedDirs.some((dir) => isUnder(dir, file));
    } catch {
      inside = false;
    }
    if (!inside) {
      this.refuse(
        element,
        `it opens ${JSON.stringify(file)} on the destination, outside the host files the worker allows (${allowedDirs.join(', ')})`,
        remedy,
      );
    }
  }

  /**
   * libvirt executes `<emulator>` on the destination: it must be a qemu binary by name, at a
   * plain absolute path, and outside the directories clones write into (where a copied
   * "disk" could have been planted under that name).
   */
  emulator(file: string): void {
    const name = file.slice(file.lastIndexOf('/') + 1);
    let plain: boolean;
    try {
      plain =
        normalizeAbsolutePath(file) === file && !(this.context.writableRoots ?? []).some((root) => isUnder(root, file));
    } catch {
      plain = false;
    }
    if (!plain || !EMULATOR_NAME.test(name)) {
      this.refuse(
        '<emulator>',
        `the destination would execute ${JSON.stringify(file)}, which is not a qemu binary outside the clone's directories`,
        "point <emulator> at the host's qemu-system-* or qemu-kvm",
      );
    }
  }

  isCopied(target: string | undefined): boolean {
    return target !== undefined && (this.context.selection?.copiedTargets ?? []).includes(target);
  }

  isExcluded(target: string | undefined): boolean {
    return target !== undefined && (this.context.selection?.excludeDisks ?? []).includes(target);
  }

  /** Only the final XML is checked for paths the clone rewrites (logs, serial files). */
  get isFinal(): boolean {
    return this.context.selection === undefined;
  }
}

function describeDisk(disk: Element): string {
  const target = attribute(child(disk, 'target'), 'dev') ?? '?';
  return `<disk type='${attribute(disk, 'type') ?? 'file'}' device='${attribute(disk, 'device') ?? 'disk'}'> ${target}`;
}

function checkDisk(check: PolicyCheck, disk: Element): void {
  const target = attribute(child(disk, 'target'), 'dev');
  if (check.isExcluded(target)) return;
  const device = attribute(disk, 'device') ?? 'disk';
  const type = attribute(disk, 'type') ?? 'file';
  const name = describeDisk(disk);
  const exclude = `or leave it out with excludeDisks: ['${target ?? '?'}']`;
  // Allowing the kind allows the host device or file it opens.
  if (device === 'lun' || device === 'floppy') {
    const reason =
      device === 'lun'
        ? 'a LUN passes SCSI commands through to a host block device'
        : 'floppy media are never copied, so the clone would open a host file';
    check.hostReaching(device, name, reason);
    return;
  }
  const source = child(disk, 'source');
  if (!source) return;
  // A block device the clone copies lands as a file of its own; the clone never opens the device's path.
  const copiedBlock = type === 'block' && device === 'disk' && check.isCopied(target);
  if (type !== 'file' && type !== 'volume' && !copiedBlock) {
    check.refuse(
      name,
      `a ${type} disk opens a host device, directory or network export on the destination`,
      `leave it out with excludeDisks: ['${target ?? '?'}']`,
    );
    return;
  }
  if (type === 'file' && !check.isCopied(target)) {
    check.hostFile(
      name,
      attribute(source, 'file'),
      `${device === 'cdrom' ? 'copy it with copyCdroms, ' : ''}${hostFileRemedy()}, ${exclude}`,
    );
    // Layers below media that stays where it is are host files too.
    for (let store = child(disk, 'backingStore'); store; store = child(store, 'backingStore')) {
      check.hostFile(
        `${name} <backingStore>`,
        attribute(child(store, 'source'), 'file') ?? attribute(child(store, 'source'), 'dev'),
        `${hostFileRemedy()}, ${exclude}`,
      );
    }
  }
  // A qcow2 external data file (libvirt 10.10+): qemu would read and write that host file.
  if (path(disk, 'source', 'dataStore').length > 0)
    check.refuse(
      `${name} <dataStore>`,
      'its data lives in a file of the host that kvm-clone does not copy',
      `leave it out with excludeDisks: ['${target ?? '?'}']`,
    );
}

/** Security labels the source chose: turning confinement off, or a fixed label, applies on the destination too. */
function checkSeclabels(check: PolicyCheck, root: Element): void {
  for (const label of Array.from(root.getElementsByTagName('seclabel'))) {
    const type = attribute(label, 'type') ?? 'dynamic';
    if (type === 'none' || type === 'static' || attribute(label, 'relabel') === 'no') {
      check.refuse(
        `<seclabel type='${type}'>`,
        'it turns off or fixes the confinement of qemu on the destination, or keeps libvirt from labelling files',
        'remove it from the source VM before cloning',
      );
    }
  }
}

/** `<sysinfo type='fwcfg'>` entries with a file: qemu reads that host file into the guest. */
function checkSysinfo(check: PolicyCheck, root: Element): void {
  for (const entry of path(root, 'sysinfo', 'entry'))
    check.hostFile(`<sysinfo><entry name='${attribute(entry, 'name') ?? '?'}'>`, attribute(entry, 'file'));
}

function checkInterface(check: PolicyCheck, iface: Element): void {
  const type = attribute(iface, 'type') ?? 'network';
  if (SAFE_INTERFACE_TYPES.has(type)) return;
  const name = `<interface type='${type}'>`;
  if (type === 'direct')
    check.hostReaching('interface-direct', name, 'macvtap attaches the guest to a host NIC directly');
  else if (type === 'ethernet')
    check.hostReaching(
      'interface-ethernet',
      name,
      'an ethernet interface runs host scripts and opens host tap devices',
    );
  else if (type === 'hostdev')
    check.hostReaching('interface-hostdev', name, 'it passes a host network device through to the guest');
  else
    check.refuse(
      name,
      `interface type ${type} is not one kvm-clone knows to stay inside the guest`,
      'use a network, bridge or user interface',
    );
}

/** serial, console, channel, parallel, and the chardevs inside smartcard, redirdev, rng. */
function checkChardev(check: PolicyCheck, element: Element, name: string): void {
  const type = attribute(element, 'type') ?? 'pty';
  for (const log of children(element, 'log')) {
    // The clone moves log files into its own directory; the final XML must show that.
    if (check.isFinal) check.hostFile(`${name} <log>`, attribute(log, 'file'));
  }
  if (SAFE_CHARDEV_TYPES.has(type)) return;
  const source = child(element, 'source');
  const description = `${name.slice(0, -1)} type='${type}'>`;
  if (type === 'file' && (name === '<serial>' || name === '<console>')) {
    // Rewritten into the clone's directory (CloneRewrite.logDir).
    if (check.isFinal) check.hostFile(description, attribute(source, 'path'));
    return;
  }
  if (type === 'unix' && attribute(source, 'mode') === 'bind') {
    const socket = attribute(source, 'path');
    // No path: libvirt makes one in its own directory.
    if (socket === undefined) return;
    let inside: boolean;
    try {
      inside = SOCKET_DIRS.some((dir) => isUnder(dir, socket));
    } catch {
      inside = false;
    }
    if (inside) return;
    check.hostReaching(
      'serial-file',
      description,
      `qemu would create a listening socket at ${JSON.stringify(socket)}, replacing any file there`,
    );
    return;
  }
  check.hostReaching(
    'serial-file',
    description,
    `a ${type} character device reaches a host file, device, pipe, socket or network port`,
  );
}

function checkRng(check: PolicyCheck, rng: Element): void {
  const backend = child(rng, 'backend');
  const model = attribute(backend, 'model') ?? 'random';
  if (model === 'builtin') return;
  if (model === 'random') {
    const device = textOf(backend) ?? '/dev/urandom';
    if (!SAFE_RNG_DEVICES.has(device))
      check.hostReaching('hostdev', `<rng> ${device}`, 'it reads a host device other than /dev/random or /dev/urandom');
    return;
  }
  check.hostReaching(
    'serial-file',
    `<rng backend='${model}'>`,
    'it reads entropy from a host socket or character device',
  );
}

function checkTpm(check: PolicyCheck, tpm: Element): void {
  const backend = attribute(child(tpm, 'backend'), 'type') ?? 'passthrough';
  if (backend !== 'emulator')
    check.hostReaching(
      'hostdev',
      `<tpm backend='${backend}'>`,
      'it hands the guest a host TPM or a socket of the host',
    );
}

function checkInput(check: PolicyCheck, input: Element): void {
  const type = attribute(input, 'type');
  if (type === 'passthrough' || type === 'evdev')
    check.hostReaching('hostdev', `<input type='${type}'>`, 'it passes a host input device through to the guest');
}

function checkGraphics(check: PolicyCheck, graphics: Element): void {
  const renderNode = attribute(child(graphics, 'gl'), 'rendernode');
  if (renderNode)
    check.hostReaching(
      'hostdev',
      `<graphics type='${attribute(graphics, 'type') ?? '?'}'> <gl rendernode>`,
      `it opens the host's GPU ${renderNode}`,
    );
}

function checkDevices(check: PolicyCheck, devices: Element): void {
  for (let node = devices.firstChild; node; node = node.nextSibling) {
    if (!isElement(node)) continue;
    const tag = node.nodeName;
    if (!KNOWN_DEVICES.has(tag)) {
      check.refuse(
        `<${tag}>`,
        'kvm-clone does not know this device to stay inside the guest',
        'remove it from the source VM before cloning',
      );
      continue;
    }
    switch (tag) {
      case 'emulator':
        check.emulator(textOf(node) ?? '');
        break;
      case 'disk':
        checkDisk(check, node);
        break;
      case 'interface':
        checkInterface(check, node);
        break;
      case 'serial':
      case 'console':
      case 'channel':
      case 'parallel':
        checkChardev(check, node, `<${tag}>`);
        break;
      case 'smartcard':
        check.hostReaching('smartcard', '<smartcard>', 'it reaches host smartcard readers or a host socket');
        break;
      case 'redirdev':
        check.hostReaching('redirdev', '<redirdev>', 'it redirects USB devices over a host channel');
        break;
      case 'shmem':
        check.hostReaching('shmem', '<shmem>', 'it maps host shared memory into the guest');
        break;
      case 'hostdev':
        check.hostReaching(
          'hostdev',
          '<hostdev>',
          'it passes a host PCI, USB, SCSI or mediated device through to the guest',
        );
        break;
      case 'filesystem':
        check.hostReaching(
          'filesystem',
          `<filesystem> ${attribute(child(node, 'target'), 'dir') ?? ''}`.trim(),
          'it shares a host directory with the guest',
        );
        break;
      case 'rng':
        checkRng(check, node);
        break;
      case 'tpm':
        checkTpm(check, node);
        break;
      case 'input':
        checkInput(check, node);
        break;
      case 'graphics':
        checkGraphics(check, node);
        break;
    }
  }
}

/** Kernel, initrd, DTB, firmware, NVRAM template and ACPI tables: files libvirt opens on the destination. */
function checkOs(check: PolicyCheck, os: Element): void {
  for (const tag of ['kernel', 'initrd', 'dtb']) {
    for (const element of children(os, tag)) check.hostFile(`<os><${tag}>`, textOf(element));
  }
  for (const loader of children(os, 'loader')) check.hostFile('<os><loader>', textOf(loader));
  for (const nvram of children(os, 'nvram')) {
    check.hostFile('<os><nvram template>', attribute(nvram, 'template'));
    // The clone copies the store or drops the path; the final XML shows where it went.
    if (check.isFinal) check.hostFile('<os><nvram>', textOf(nvram) ?? attribute(child(nvram, 'source'), 'file'));
  }
  for (const table of path(os, 'acpi', 'table')) check.hostFile('<os><acpi><table>', textOf(table));
}

/**
 * Elements of another namespace outside `<metadata>`: qemu's own (command line, capabilities, overrides) or a driver's.
 */
function checkNamespaces(check: PolicyCheck, element: Element): void {
  for (let node = element.firstChild; node; node = node.nextSibling) {
    if (!isElement(node) || node.nodeName === 'metadata') continue;
    if (node.namespaceURI) {
      const qemu = QEMU_NAMESPACES.has(node.namespaceURI) || node.prefix === 'qemu';
      if (qemu)
        check.hostReaching(
          'qemu:commandline',
          `<${node.nodeName}>`,
          "it passes options straight to qemu's command line or its devices",
        );
      else
        check.refuse(
          `<${node.nodeName}>`,
          `elements of namespace ${node.namespaceURI} configure the hypervisor directly`,
          'remove it from the source VM before cloning',
        );
      continue;
    }
    checkNamespaces(check, node);
  }
}

/** Everything in a domain XML the worker's policy does not allow; empty when it may be defined. */
export function domainPolicyViolations(xml: string, context: DomainPolicyContext): DomainPolicyViolation[] {
  const root = parseDomainDocument(xml).documentElement!;
  const check = new PolicyCheck(context);
  checkNamespaces(check, root);
  for (const devices of children(root, 'devices')) checkDevices(check, devices);
  for (const os of children(root, 'os')) checkOs(check, os);
  checkSeclabels(check, root);
  checkSysinfo(check, root);
  return check.violations;
}

/** Refuses (1200, CLONE_ERROR) a domain with any violation, naming each element and what to do about it. */
export function enforceDomainPolicy(xml: string, context: DomainPolicyContext, vmName: string): void {
  const violations = domainPolicyViolations(xml, context);
  if (violations.length === 0) return;
  const lines = violations.map((violation) => `${violation.element}: ${violation.reason}; ${violation.remedy}`);
  throw new KvmCloneError(
    ErrorCode.CLONE_ERROR,
    `VM '${vmName}' has ${violations.length === 1 ? 'a device' : 'devices'} that would reach the destination host: ${lines.join(' | ')}`,
    { vmName, elements: violations.map((violation) => violation.element) },
    { retryable: false },
  );
}
