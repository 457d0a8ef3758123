import { DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { ErrorCode, KvmCloneError } from '../errors';
import { joinPath } from './clone-plan';

export interface DomainDisk {
  /** Guest device name, e.g. `vda`: the disk's identity inside the domain. */
  target: string;
  device: string;
  type: string;
  format?: string;
  sourcePath?: string;
  readonly: boolean;
}

export interface DomainInterface {
  type: string;
  mac?: string;
  source?: string;
}

export interface DomainSummary {
  name: string;
  uuid?: string;
  domainType: string;
  arch?: string;
  machine?: string;
  emulator?: string;
  disks: DomainDisk[];
  interfaces: DomainInterface[];
  /** Files the domain writes its serial or console output to. */
  logFiles: string[];
}

export interface CloneRewrite {
  newName: string;
  /** New source path of each copied disk, by target device. */
  diskPaths: Record<string, string>;
  /** New MAC for each interface, in document order; absent keeps the source's MACs. */
  macAddresses?: string[];
  /** Directory for the clone's serial/console log files. */
  logDir: string;
}

function parse(xml: string): Document {
  let problem: string | undefined;
  let document: Document | undefined;
  try {
    document = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') problem ??= message;
      },
    }).parseFromString(xml, 'text/xml');
  } catch (error) {
    // xmldom throws on fatal errors; callers get the same coded error either way.
    problem = error instanceof Error ? error.message : String(error);
  }
  const root = document?.documentElement;
  if (problem || !document || !root || root.nodeName !== 'domain') {
    throw new KvmCloneError(ErrorCode.LIBVIRT_ERROR, `not a libvirt domain XML document${problem ? `: ${problem.split('\n')[0]}` : ''}`);
  }
  return document;
}

function children(parent: Element, tag: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === node.ELEMENT_NODE && node.nodeName === tag) found.push(node as Element);
  }
  return found;
}

function child(parent: Element, tag: string): Element | undefined {
  return children(parent, tag)[0];
}

function path(root: Element, ...tags: string[]): Element[] {
  let level = [root];
  for (const tag of tags) level = level.flatMap((element) => children(element, tag));
  return level;
}

function attribute(element: Element | undefined, name: string): string | undefined {
  const value = element?.getAttribute(name);
  return value === null || value === undefined || value === '' ? undefined : value;
}

function textOf(element: Element | undefined): string | undefined {
  const text = element?.textContent?.trim();
  return text ? text : undefined;
}

/** The character-device elements whose output goes to a file on the host. */
function logFileAttributes(root: Element): { element: Element; name: 'path' | 'file' }[] {
  const found: { element: Element; name: 'path' | 'file' }[] = [];
  for (const device of [...path(root, 'devices', 'serial'), ...path(root, 'devices', 'console')]) {
    if (attribute(device, 'type') === 'file') {
      for (const source of children(device, 'source')) if (attribute(source, 'path')) found.push({ element: source, name: 'path' });
    }
    for (const log of children(device, 'log')) if (attribute(log, 'file')) found.push({ element: log, name: 'file' });
  }
  return found;
}

function diskSourcePath(disk: Element): string | undefined {
  const source = child(disk, 'source');
  return attribute(source, 'file') ?? attribute(source, 'dev') ?? attribute(source, 'dir');
}

export function parseDomainXml(xml: string): DomainSummary {
  const root = parse(xml).documentElement!;
  const osType = path(root, 'os', 'type')[0];
  const summary: DomainSummary = {
    name: textOf(child(root, 'name')) ?? '',
    domainType: attribute(root, 'type') ?? 'kvm',
    disks: path(root, 'devices', 'disk').map((disk) => {
      const entry: DomainDisk = {
        target: attribute(child(disk, 'target'), 'dev') ?? '',
        device: attribute(disk, 'device') ?? 'disk',
        type: attribute(disk, 'type') ?? 'file',
        readonly: child(disk, 'readonly') !== undefined,
      };
      const format = attribute(child(disk, 'driver'), 'type');
      if (format) entry.format = format;
      const sourcePath = diskSourcePath(disk);
      if (sourcePath) entry.sourcePath = sourcePath;
      return entry;
    }),
    interfaces: path(root, 'devices', 'interface').map((iface) => {
      const entry: DomainInterface = { type: attribute(iface, 'type') ?? 'network' };
      const mac = attribute(child(iface, 'mac'), 'address');
      if (mac) entry.mac = mac;
      const source = child(iface, 'source');
      const sourceName = attribute(source, 'network') ?? attribute(source, 'bridge') ?? attribute(source, 'dev');
      if (sourceName) entry.source = sourceName;
      return entry;
    }),
    logFiles: [...new Set(logFileAttributes(root).map(({ element, name }) => element.getAttribute(name)!))],
  };
  const uuid = textOf(child(root, 'uuid'));
  if (uuid) summary.uuid = uuid;
  const arch = attribute(osType, 'arch');
  if (arch) summary.arch = arch;
  const machine = attribute(osType, 'machine');
  if (machine) summary.machine = machine;
  const emulator = textOf(path(root, 'devices', 'emulator')[0]);
  if (emulator) summary.emulator = emulator;
  return summary;
}

function basename(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}

/** Where a log file of the clone goes: the clone's name keeps two clones' logs apart. */
export function cloneLogPath(logDir: string, newName: string, sourceLogPath: string): string {
  return joinPath(logDir, `${newName}-${basename(sourceLogPath)}`);
}

/**
 * The source's inactive XML turned into the clone's: new name, no UUID (libvirt makes
 * one), new MACs, disks and log files at their destination paths. Everything else is
 * kept as the source had it.
 */
export function rewriteDomainForClone(xml: string, rewrite: CloneRewrite): string {
  const document = parse(xml);
  const root = document.documentElement!;

  const name = child(root, 'name');
  if (!name) throw new KvmCloneError(ErrorCode.LIBVIRT_ERROR, 'domain XML has no <name>');
  name.textContent = rewrite.newName;
  for (const uuid of children(root, 'uuid')) root.removeChild(uuid);

  for (const disk of path(root, 'devices', 'disk')) {
    const target = attribute(child(disk, 'target'), 'dev');
    const newPath = target === undefined ? undefined : rewrite.diskPaths[target];
    if (newPath === undefined) continue;
    const source = child(disk, 'source');
    if (!source) continue;
    source.setAttribute('file', newPath);
    for (const backing of children(disk, 'backingStore')) disk.removeChild(backing);
  }

  if (rewrite.macAddresses) {
    path(root, 'devices', 'interface').forEach((iface, index) => {
      const address = rewrite.macAddresses![index];
      if (!address) return;
      let mac = child(iface, 'mac');
      if (!mac) {
        mac = document.createElement('mac');
        iface.insertBefore(mac, iface.firstChild);
      }
      mac.setAttribute('address', address);
    });
  }

  for (const { element, name: attributeName } of logFileAttributes(root)) {
    element.setAttribute(attributeName, cloneLogPath(rewrite.logDir, rewrite.newName, element.getAttribute(attributeName)!));
  }

  return new XMLSerializer().serializeToString(document);
}
