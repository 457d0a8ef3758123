import { XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { ErrorCode, KvmCloneError } from '../errors';
import { joinPath } from './paths';
import type { DomainDisk, DomainInterface, DomainSummary, DomainTpm } from './domain-model';
import { mappedNetworkName, type NetworkMap } from './network-map';
import { lookup } from './record-lookup';
import {
  attribute,
  child,
  children,
  insertAfter,
  parseDomainDocument,
  path,
  removeChildren,
  removeElement,
  textOf,
} from './xml-dom';

// Callers reach everything about a domain document through this module.
export type { DomainDisk, DomainInterface, DomainSummary, DomainTpm } from './domain-model';
export { domainXmlDiff, prettyDomainXml } from './domain-xml-diff';
export {
  requiredNetworks,
  unusedNetworkMapEntries,
  type NetworkKind,
  type NetworkMap,
  type RequiredNetwork,
} from './network-map';

/** A destination storage-pool volume for a disk. */
export interface PoolVolume {
  pool: string;
  volume: string;
}

export interface CloneRewrite {
  newName: string;
  /**
   * New source path of each copied disk, by target device: disks and CD-ROMs alike.
   * The disk becomes `type='file'`, whatever it was on the source (a pool volume or a block
   * device too); its `<driver type>` stays, so the copy is read in the source's format.
   */
  diskPaths: Record<string, string>;
  /**
   * Disks that land in a storage pool on the destination, by target: they become `type='volume'`. Wins over
   * `diskPaths`.
   */
  volumeDisks?: Record<string, PoolVolume>;
  /** Targets of disks the clone leaves out. */
  removeDisks?: string[];
  /** New MAC for each interface, in document order; absent keeps the source's MACs. */
  macAddresses?: string[];
  /** Source network or bridge name to the destination's; unmapped names stay. */
  networkMap?: NetworkMap;
  /**
   * Path of the clone's copy of the UEFI variable store. Absent clears the path, so the
   * clone never shares the source's store: libvirt then makes a fresh one from the template.
   */
  nvramPath?: string;
  /**
   * UUID for the clone. Absent drops the UUID so libvirt makes one. Callers that must know
   * the UUID before defining, e.g. to place a TPM's state directory, pick it here.
   */
  uuid?: string;
  /** Directory for the clone's serial/console log files. */
  logDir: string;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The character-device elements whose output goes to a file on the host. */
function logFileAttributes(root: Element): { element: Element; name: 'path' | 'file' }[] {
  const found: { element: Element; name: 'path' | 'file' }[] = [];
  for (const device of [...path(root, 'devices', 'serial'), ...path(root, 'devices', 'console')]) {
    if (attribute(device, 'type') === 'file') {
      for (const source of children(device, 'source'))
        if (attribute(source, 'path')) found.push({ element: source, name: 'path' });
    }
    for (const log of children(device, 'log')) if (attribute(log, 'file')) found.push({ element: log, name: 'file' });
  }
  return found;
}

function diskSourcePath(disk: Element): string | undefined {
  const source = child(disk, 'source');
  return attribute(source, 'file') ?? attribute(source, 'dev') ?? attribute(source, 'dir');
}

/**
 * Guest device names as libvirt spells them (`vda`, `sdb`, `hdc`, `xvda`, `fda`, `nvme0n1`):
 * a bus prefix, then lower-case letters and digits. The name becomes part of destination
 * file names, so nothing else (no `/`, `.`, upper case or punctuation) may pass.
 */
const DISK_TARGET_PATTERN = /^(hd|sd|vd|xvd|ubd|fd|mmcblk|nvme)[a-z0-9]{1,10}$/;

export function isValidDiskTarget(target: string): boolean {
  return DISK_TARGET_PATTERN.test(target);
}

/** The disk's `<target dev>`, refused (1302) unless it is a name libvirt itself would accept. */
function diskTarget(disk: Element): string {
  const target = attribute(child(disk, 'target'), 'dev') ?? '';
  if (!isValidDiskTarget(target)) {
    throw new KvmCloneError(
      ErrorCode.INVALID_PATH,
      `disk target ${JSON.stringify(target)} is not a device name libvirt accepts (vda, sdb, hdc, ...); the domain XML is refused`,
      { target },
      { retryable: false },
    );
  }
  return target;
}

function parseDisk(disk: Element): DomainDisk {
  const entry: DomainDisk = {
    target: diskTarget(disk),
    device: attribute(disk, 'device') ?? 'disk',
    type: attribute(disk, 'type') ?? 'file',
    readonly: child(disk, 'readonly') !== undefined,
  };
  const format = attribute(child(disk, 'driver'), 'type');
  if (format) entry.format = format;
  const sourcePath = diskSourcePath(disk);
  if (sourcePath) entry.sourcePath = sourcePath;
  const backingFormats: (string | undefined)[] = [];
  for (let store = child(disk, 'backingStore'); store && child(store, 'source'); store = child(store, 'backingStore')) {
    backingFormats.push(attribute(child(store, 'format'), 'type'));
  }
  if (backingFormats.some((each) => each !== undefined)) entry.backingFormats = backingFormats;
  if (entry.type === 'volume') {
    const source = child(disk, 'source');
    const pool = attribute(source, 'pool');
    if (pool) entry.pool = pool;
    const volume = attribute(source, 'volume');
    if (volume) entry.volume = volume;
  }
  return entry;
}

function parseInterface(iface: Element): DomainInterface {
  const entry: DomainInterface = { type: attribute(iface, 'type') ?? 'network' };
  const mac = attribute(child(iface, 'mac'), 'address');
  if (mac) entry.mac = mac;
  const source = child(iface, 'source');
  const sourceName = attribute(source, 'network') ?? attribute(source, 'bridge') ?? attribute(source, 'dev');
  if (sourceName) entry.source = sourceName;
  return entry;
}

function parseTpm(root: Element): DomainTpm | undefined {
  const tpm = path(root, 'devices', 'tpm')[0];
  if (!tpm) return undefined;
  const backend = child(tpm, 'backend');
  const entry: DomainTpm = { backend: attribute(backend, 'type') ?? 'passthrough' };
  const model = attribute(tpm, 'model');
  if (model) entry.model = model;
  const version = attribute(backend, 'version');
  if (version) entry.version = version;
  return entry;
}

/** The NVRAM file: the element's text, or libvirt 8.5+'s `<nvram type='file'><source file=…/>` form. */
function nvramFile(nvram: Element | undefined): string | undefined {
  if (!nvram) return undefined;
  return textOf(nvram) ?? attribute(child(nvram, 'source'), 'file');
}

export function parseDomainXml(xml: string): DomainSummary {
  const root = parseDomainDocument(xml).documentElement!;
  const os = child(root, 'os');
  const osType = os && child(os, 'type');
  const nvram = os && child(os, 'nvram');
  const summary: DomainSummary = {
    name: textOf(child(root, 'name')) ?? '',
    domainType: attribute(root, 'type') ?? 'kvm',
    disks: path(root, 'devices', 'disk').map(parseDisk),
    interfaces: path(root, 'devices', 'interface').map(parseInterface),
    logFiles: [...new Set(logFileAttributes(root).map(({ element, name }) => element.getAttribute(name)!))],
  };
  const optional: Partial<DomainSummary> = {
    uuid: textOf(child(root, 'uuid')),
    arch: attribute(osType, 'arch'),
    machine: attribute(osType, 'machine'),
    emulator: textOf(path(root, 'devices', 'emulator')[0]),
    firmware: attribute(os, 'firmware'),
    loaderPath: textOf(os && child(os, 'loader')),
    nvramPath: nvramFile(nvram),
    nvramTemplate: attribute(nvram, 'template'),
    tpm: parseTpm(root),
  };
  // Absent stays absent rather than `undefined`: summaries cross Temporal's JSON boundary and compare with toEqual.
  for (const [key, value] of Object.entries(optional))
    if (value !== undefined) Object.assign(summary, { [key]: value });
  return summary;
}

function basename(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}

/** Where a log file of the clone goes: the clone's name keeps two clones' logs apart. */
export function cloneLogPath(logDir: string, newName: string, sourceLogPath: string): string {
  return joinPath(logDir, `${newName}-${basename(sourceLogPath)}`);
}

/** Where the clone's serial and console log files go: the paths rewriteDomainForClone gives them. */
export function cloneLogPaths(xml: string, logDir: string, newName: string): string[] {
  const root = parseDomainDocument(xml).documentElement!;
  const paths = logFileAttributes(root).map(({ element, name }) =>
    cloneLogPath(logDir, newName, element.getAttribute(name)!),
  );
  return [...new Set(paths)];
}

function setUuid(document: Document, root: Element, name: Element, uuid: string | undefined): void {
  for (const existing of children(root, 'uuid')) removeElement(existing);
  if (uuid === undefined) return;
  if (!UUID_PATTERN.test(uuid)) throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, `not a UUID: ${uuid}`, { uuid });
  const element = document.createElement('uuid');
  element.textContent = uuid;
  insertAfter(name, element);
}

/** Source attributes that say where a disk's data is; replaced together so no stale one remains. */
const DISK_LOCATION_ATTRIBUTES = ['file', 'dev', 'dir', 'pool', 'volume', 'mode'];

function pointDiskAt(disk: Element, location: { file: string } | PoolVolume): void {
  const source = child(disk, 'source');
  // A CD-ROM without media has nothing that was copied.
  if (!source) return;
  for (const name of DISK_LOCATION_ATTRIBUTES) source.removeAttribute(name);
  // Persistent reservations belong to a block device and reach a host socket; a copy is a file.
  for (const reservations of children(source, 'reservations')) source.removeChild(reservations);
  if ('file' in location) {
    disk.setAttribute('type', 'file');
    source.setAttribute('file', location.file);
  } else {
    disk.setAttribute('type', 'volume');
    source.setAttribute('pool', location.pool);
    source.setAttribute('volume', location.volume);
  }
  // libvirt probes the copy's chain from the image headers instead of trusting the source's.
  for (const backing of children(disk, 'backingStore')) disk.removeChild(backing);
}

function rewriteDisks(root: Element, rewrite: CloneRewrite): void {
  const removed = new Set(rewrite.removeDisks ?? []);
  for (const disk of path(root, 'devices', 'disk')) {
    const target = attribute(child(disk, 'target'), 'dev');
    if (target !== undefined && removed.has(target)) {
      removeElement(disk);
      continue;
    }
    const volume = lookup(rewrite.volumeDisks, target);
    const file = lookup(rewrite.diskPaths, target);
    if (volume) pointDiskAt(disk, volume);
    else if (file !== undefined) pointDiskAt(disk, { file });
  }
}

function rewriteNetworks(root: Element, networkMap: NetworkMap | undefined): void {
  if (!networkMap) return;
  for (const iface of path(root, 'devices', 'interface')) {
    const type = attribute(iface, 'type');
    if (type !== 'network' && type !== 'bridge') continue;
    for (const source of children(iface, 'source')) {
      const name = attribute(source, type);
      if (name !== undefined) source.setAttribute(type, mappedNetworkName(name, networkMap));
    }
  }
}

function rewriteMacs(document: Document, root: Element, macAddresses: string[] | undefined): void {
  if (!macAddresses) return;
  path(root, 'devices', 'interface').forEach((iface, index) => {
    const address = macAddresses[index];
    if (!address) return;
    let mac = child(iface, 'mac');
    if (!mac) {
      mac = document.createElement('mac');
      iface.insertBefore(mac, iface.firstChild);
    }
    mac.setAttribute('address', address);
  });
}

function rewriteNvram(root: Element, nvramPath: string | undefined): void {
  const nvrams = path(root, 'os', 'nvram');
  if (nvrams.length === 0 && nvramPath !== undefined) {
    throw new KvmCloneError(ErrorCode.VALIDATION_ERROR, 'an NVRAM path was given but the domain has no <nvram>', {
      nvramPath,
    });
  }
  for (const nvram of nvrams) {
    // Both the text and the <source> form become the text form, which every libvirt reads.
    removeChildren(nvram);
    nvram.removeAttribute('type');
    if (nvramPath !== undefined) nvram.textContent = nvramPath;
    // With no path libvirt generates <nvram dir>/<name>_VARS.fd from the template on first start.
    else if (nvram.attributes.length === 0) removeElement(nvram);
  }
}

/**
 * The source's inactive XML turned into the clone's: new name and UUID (or none, so
 * libvirt makes one), new MACs, networks mapped, disks, NVRAM and log files at their
 * destination paths, excluded disks left out. Everything else is kept as the source had it.
 */
export function rewriteDomainForClone(xml: string, rewrite: CloneRewrite): string {
  const document = parseDomainDocument(xml);
  const root = document.documentElement!;

  const name = child(root, 'name');
  if (!name) throw new KvmCloneError(ErrorCode.LIBVIRT_ERROR, 'domain XML has no <name>');
  name.textContent = rewrite.newName;
  setUuid(document, root, name, rewrite.uuid);

  rewriteDisks(root, rewrite);
  rewriteNetworks(root, rewrite.networkMap);
  rewriteMacs(document, root, rewrite.macAddresses);
  rewriteNvram(root, rewrite.nvramPath);

  for (const { element, name: attributeName } of logFileAttributes(root)) {
    element.setAttribute(
      attributeName,
      cloneLogPath(rewrite.logDir, rewrite.newName, element.getAttribute(attributeName)!),
    );
  }

  return new XMLSerializer().serializeToString(document);
}

/** Graphics attributes that `virsh dumpxml --security-info` adds: the password and its expiry. */
const GRAPHICS_SECRET_ATTRIBUTES = ['passwd', 'passwdValidTo'];

/** How many `<graphics>` of a domain carry a password (VNC, SPICE). Read on the worker only. */
export function graphicsPasswordCount(xml: string): number {
  const root = parseDomainDocument(xml).documentElement!;
  return path(root, 'devices', 'graphics').filter((graphics) => graphics.hasAttribute('passwd')).length;
}

/**
 * `xml` with each `<graphics>` given the password of the same-typed `<graphics>` at the same
 * position in `withPasswords` (a `--security-info` dump). Runs on the worker right before a
 * define, so passwords never travel through workflow history.
 */
export function withGraphicsPasswords(xml: string, withPasswords: string): string {
  if (graphicsPasswordCount(withPasswords) === 0) return xml;
  const document = parseDomainDocument(xml);
  const targets = path(document.documentElement!, 'devices', 'graphics');
  const sources = path(parseDomainDocument(withPasswords).documentElement!, 'devices', 'graphics');
  targets.forEach((graphics, index) => {
    const from = sources[index];
    if (!from || attribute(from, 'type') !== attribute(graphics, 'type')) return;
    for (const name of GRAPHICS_SECRET_ATTRIBUTES) {
      const value = from.getAttribute(name);
      if (value !== null && value !== '') graphics.setAttribute(name, value);
    }
  });
  return new XMLSerializer().serializeToString(document);
}

/** The XML without graphics passwords: what may be returned, logged or diffed. */
export function withoutGraphicsPasswords(xml: string): string {
  const document = parseDomainDocument(xml);
  const graphics = path(document.documentElement!, 'devices', 'graphics');
  if (!graphics.some((each) => GRAPHICS_SECRET_ATTRIBUTES.some((name) => each.hasAttribute(name)))) return xml;
  for (const each of graphics) for (const name of GRAPHICS_SECRET_ATTRIBUTES) each.removeAttribute(name);
  return new XMLSerializer().serializeToString(document);
}
