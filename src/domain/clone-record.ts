import { DOMParser, XMLSerializer, type Element } from '@xmldom/xmldom';
import { isUnder, normalizeAbsolutePath } from './paths';
import { escapeXmlAttribute, insertAfter, isElement, parseDomainDocument } from './xml-dom';

/**
 * The record a clone carries in its domain's `<metadata>`: which operation made it and the
 * files it created on the destination. A sync writes only into files the record lists, so
 * it never writes into a file some other VM shares (a base image) or an administrator's
 * file that a domain happens to point at.
 */
export interface CloneRecord {
  /** The operation (workflow ID) that made the clone. */
  operation: string;
  /** Absolute paths of the files the clone (and the syncs since) created, normalised. */
  files: string[];
}

export const CLONE_RECORD_NAMESPACE = 'https://kvm-clone.dev/xmlns/clone/1';
/** The prefix libvirt gives the record's element (`virsh metadata --key`). */
export const CLONE_RECORD_KEY = 'kvmcloneown';
/** Every kvm-clone metadata namespace starts so: the sync marker, the checkpoint record, this record. */
const kvmCloneNamespacePrefix = 'https://kvm-clone.dev/xmlns/';

/** The record as the element `virsh metadata --set` takes (libvirt adds the namespace). */
export function cloneRecordXml(record: CloneRecord): string {
  const files = uniqueFiles(record.files).map((path) => `<file path="${escapeXmlAttribute(path)}"/>`);
  return `<clone operation="${escapeXmlAttribute(record.operation)}">${files.join('')}</clone>`;
}

function uniqueFiles(files: readonly string[]): string[] {
  return [...new Set(files.map(normalizeAbsolutePath))].sort();
}

/** The record in an element of the record's namespace; undefined when it is anything else. */
function recordFromElement(element: Element): CloneRecord | undefined {
  if (element.localName !== 'clone' || element.namespaceURI !== CLONE_RECORD_NAMESPACE) return undefined;
  const operation = element.getAttribute('operation') ?? '';
  const files: string[] = [];
  for (let node = element.firstChild; node; node = node.nextSibling) {
    if (!isElement(node) || node.localName !== 'file' || node.namespaceURI !== CLONE_RECORD_NAMESPACE) continue;
    const path = node.getAttribute('path');
    if (!path?.startsWith('/')) continue;
    try {
      files.push(normalizeAbsolutePath(path));
    } catch {
      // A path no clone wrote (NUL bytes) is no file of the record.
    }
  }
  return { operation, files: uniqueFiles(files) };
}

/** The `<metadata>` children of a domain document. */
function metadataChildren(root: Element): { metadata: Element | undefined; entries: Element[] } {
  let metadata: Element | undefined;
  for (let node = root.firstChild; node; node = node.nextSibling) {
    if (isElement(node) && node.nodeName === 'metadata') metadata = node;
  }
  const entries: Element[] = [];
  for (let node = metadata?.firstChild; node; node = node?.nextSibling) {
    if (node && isElement(node)) entries.push(node);
  }
  return { metadata, entries };
}

/** The clone record in a domain's XML (`virsh dumpxml --inactive`); undefined when it carries none. */
export function cloneRecordOf(domainXml: string): CloneRecord | undefined {
  const root = parseDomainDocument(domainXml).documentElement!;
  for (const entry of metadataChildren(root).entries) {
    const record = recordFromElement(entry);
    if (record) return record;
  }
  return undefined;
}

/**
 * The domain XML with `record` as its only kvm-clone metadata. Whatever kvm-clone metadata
 * the XML came with is dropped: it was the source's (a source that is itself a clone or a
 * sync target), describes files on another host, and a forged one must not become the
 * clone's record.
 */
export function withCloneRecord(domainXml: string, record: CloneRecord): string {
  const document = parseDomainDocument(domainXml);
  const root = document.documentElement!;
  const found = metadataChildren(root);
  let metadata = found.metadata;
  for (const entry of found.entries) {
    if (entry.namespaceURI?.startsWith(kvmCloneNamespacePrefix)) metadata!.removeChild(entry);
  }
  if (!metadata) {
    metadata = document.createElement('metadata');
    const reference = ['description', 'title', 'uuid', 'name']
      .map((tag) => lastChild(root, tag))
      .find((element) => element !== undefined);
    if (reference) insertAfter(reference, metadata);
    else root.appendChild(metadata);
  }
  const files = uniqueFiles(record.files).map(
    (path) => `<${CLONE_RECORD_KEY}:file path="${escapeXmlAttribute(path)}"/>`,
  );
  const element = new DOMParser().parseFromString(
    `<${CLONE_RECORD_KEY}:clone xmlns:${CLONE_RECORD_KEY}="${CLONE_RECORD_NAMESPACE}" operation="${escapeXmlAttribute(record.operation)}">${files.join('')}</${CLONE_RECORD_KEY}:clone>`,
    'text/xml',
  ).documentElement!;
  metadata.appendChild(document.importNode(element, true));
  return new XMLSerializer().serializeToString(document);
}

function lastChild(root: Element, tag: string): Element | undefined {
  let found: Element | undefined;
  for (let node = root.firstChild; node; node = node.nextSibling) {
    if (isElement(node) && node.nodeName === tag) found = node;
  }
  return found;
}

/** One record of both: the first one's operation (the clone that made the domain) and the files of both. */
export function mergeCloneRecords(earlier: CloneRecord | undefined, later: CloneRecord): CloneRecord {
  return {
    operation: earlier?.operation || later.operation,
    files: uniqueFiles([...(earlier?.files ?? []), ...later.files]),
  };
}

/** Whether the record lists `path` (compared normalised). */
export function recordHolds(record: CloneRecord, path: string): boolean {
  return record.files.includes(normalizeAbsolutePath(path));
}

/** A file of a sync target, as the target's inspection lists it. */
export interface TargetFile {
  role: string;
  target: string;
  depth: number;
  sourcePath: string;
}

/**
 * The first file of a sync target that the target's clone record does not vouch for, with
 * why; undefined when the record covers them all. TPM state is vouched for by its place:
 * libvirt keeps it in a directory named by the target's own UUID (`tpmDir`), and swtpm may
 * have made it after the clone.
 */
export function fileOutsideRecord(
  record: CloneRecord,
  files: readonly TargetFile[],
  tpmDir: string | undefined,
): { file: TargetFile; reason: string } | undefined {
  for (const file of files) {
    if (file.role === 'tpm') {
      if (
        tpmDir !== undefined &&
        isUnder(tpmDir, file.sourcePath) &&
        normalizeAbsolutePath(tpmDir) !== normalizeAbsolutePath(file.sourcePath)
      )
        continue;
      return { file, reason: "TPM state outside the target's own state directory" };
    }
    if (recordHolds(record, file.sourcePath)) continue;
    return {
      file,
      reason:
        file.role === 'backing'
          ? `backing layer ${file.depth} of disk ${file.target} is not the clone's own (a shared base image?)`
          : `the ${file.role} of ${file.target} is not a file the clone made`,
    };
  }
  return undefined;
}
