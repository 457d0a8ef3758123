import { DOMParser, type Element } from '@xmldom/xmldom';
import { ErrorCode, KvmCloneError } from '../errors';

/** What `virsh domcapabilities` says the host will run: libvirt's canonical names. */
export interface EmulatorSupport {
  domainType: string;
  emulator?: string;
  /** Canonical machine type: libvirt reports `pc` as e.g. `pc-i440fx-7.2`. */
  machine?: string;
  arch?: string;
}

function parseRoot(xml: string, rootName: string, what: string): Element {
  let problem: string | undefined;
  let root: Element | null | undefined;
  try {
    root = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') problem ??= message;
      },
    }).parseFromString(xml, 'text/xml').documentElement;
  } catch (error) {
    // xmldom throws on fatal errors; callers get the same coded error either way.
    problem = error instanceof Error ? error.message : String(error);
  }
  if (problem || !root || root.nodeName !== rootName) {
    throw new KvmCloneError(
      ErrorCode.LIBVIRT_ERROR,
      `${what} is not a <${rootName}> XML document${problem ? `: ${problem.split('\n')[0]}` : ''}`,
    );
  }
  return root;
}

function child(parent: Element | undefined, tag: string): Element | undefined {
  for (let node = parent?.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === node.ELEMENT_NODE && node.nodeName === tag) return node as Element;
  }
  return undefined;
}

function text(element: Element | undefined): string | undefined {
  const value = element?.textContent?.trim();
  return value ? value : undefined;
}

/**
 * The directory a storage pool keeps its volumes in (`/pool/target/path`), or undefined
 * for pool types without one (rbd, iscsi-direct, gluster …).
 */
export function poolTargetPathFromXml(xml: string): string | undefined {
  return text(child(child(parseRoot(xml, 'pool', 'virsh pool-dumpxml output'), 'target'), 'path'));
}

export function emulatorSupportFromXml(xml: string): EmulatorSupport {
  const root = parseRoot(xml, 'domainCapabilities', 'virsh domcapabilities output');
  const support: EmulatorSupport = { domainType: text(child(root, 'domain')) ?? '' };
  const emulator = text(child(root, 'path'));
  const machine = text(child(root, 'machine'));
  const arch = text(child(root, 'arch'));
  if (emulator) support.emulator = emulator;
  if (machine) support.machine = machine;
  if (arch) support.arch = arch;
  return support;
}
