import type { Element } from '@xmldom/xmldom';
import { normalizeAbsolutePath } from './paths';
import { attribute, child, isElement, parseDomainDocument, path as elementsAt } from './xml-dom';
import { isUnderResolvedRoots, type ResolvedPath, type ResolvedRoot } from './writable-roots';

/** A file of a VM that `force` leaves in place, and why. */
export interface KeptFile {
  path: string;
  reason: string;
}

/**
 * The files a VM about to be replaced may own: its writable file disks' images and its
 * variable store. Read-only and shareable disks are someone else's by declaration and
 * are kept; CD-ROMs, volumes and block devices are never candidates.
 */
export function replacementCandidates(xml: string): { candidates: string[]; kept: KeptFile[] } {
  const root = parseDomainDocument(xml).documentElement!;
  const candidates: string[] = [];
  const kept: KeptFile[] = [];
  for (const disk of elementsAt(root, 'devices', 'disk')) {
    const file = attribute(child(disk, 'source'), 'file');
    if (attribute(disk, 'type') !== 'file' || (attribute(disk, 'device') ?? 'disk') !== 'disk' || !file) continue;
    if (child(disk, 'readonly')) kept.push({ path: file, reason: 'it is a read-only disk' });
    else if (child(disk, 'shareable')) kept.push({ path: file, reason: 'it is a shareable disk' });
    else candidates.push(file);
  }
  const nvram = elementsAt(root, 'os', 'nvram')[0];
  const nvramPath = nvram?.textContent?.trim();
  if (nvramPath) candidates.push(nvramPath);
  return { candidates: [...new Set(candidates)], kept };
}

/**
 * Every absolute path a domain definition names, wherever (disk sources, backing stores,
 * NVRAM, kernel, loader, filesystems, serial logs): what another domain may depend on.
 * Over-inclusive on purpose, so no reference is missed.
 */
export function pathsNamedIn(xml: string): string[] {
  const found = new Set<string>();
  const visit = (element: Element) => {
    for (let index = 0; index < element.attributes.length; index++) add(element.attributes.item(index)?.value);
    for (let node = element.firstChild; node; node = node.nextSibling) {
      if (isElement(node)) visit(node);
      else if (node.nodeType === node.TEXT_NODE) add(node.nodeValue?.trim());
    }
  };
  const add = (value: string | undefined | null) => {
    if (!value?.startsWith('/')) return;
    try {
      found.add(normalizeAbsolutePath(value));
    } catch {
      // Not a path (a NUL byte): nothing to compare.
    }
  };
  visit(parseDomainDocument(xml).documentElement!);
  return [...found];
}

/** The qcow2 file disks of a domain, with their declared format: where a backing chain may start. */
export function qcow2Disks(xml: string): string[] {
  const root = parseDomainDocument(xml).documentElement!;
  return elementsAt(root, 'devices', 'disk')
    .filter((disk) => attribute(disk, 'type') === 'file' && attribute(child(disk, 'driver'), 'type') === 'qcow2')
    .map((disk) => attribute(child(disk, 'source'), 'file'))
    .filter((file): file is string => file !== undefined && file.startsWith('/'));
}

/**
 * Which candidates `force` may delete: inside the writable roots (as written and as the
 * host resolves them), regular files, and named by no other domain (by path or by what it
 * resolves to). The rest are kept, each with its reason.
 */
export function decideReplaceable(
  candidates: readonly ResolvedPath[],
  roots: readonly ResolvedRoot[],
  references: readonly ResolvedPath[],
): { paths: string[]; kept: KeptFile[] } {
  const referenced = new Set(
    references.flatMap((reference) => [normalizeAbsolutePath(reference.path), normalizeAbsolutePath(reference.real)]),
  );
  const paths: string[] = [];
  const kept: KeptFile[] = [];
  for (const candidate of candidates) {
    if (!isUnderResolvedRoots(candidate, roots))
      kept.push({ path: candidate.path, reason: 'it is outside the directories this host allows clones to write' });
    else if (candidate.kind === 'missing') continue;
    else if (candidate.kind !== 'file')
      kept.push({ path: candidate.path, reason: `it is a ${candidate.kind}, not a regular file` });
    else if (
      referenced.has(normalizeAbsolutePath(candidate.path)) ||
      referenced.has(normalizeAbsolutePath(candidate.real))
    ) {
      kept.push({ path: candidate.path, reason: 'another domain on this host uses it' });
    } else paths.push(candidate.path);
  }
  return { paths, kept };
}
