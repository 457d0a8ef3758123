import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { ErrorCode, KvmCloneError } from '../errors';

/** Parses a libvirt domain document; anything else, or anything malformed, is a LIBVIRT_ERROR. */
export function parseDomainDocument(xml: string): Document {
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
    throw new KvmCloneError(
      ErrorCode.LIBVIRT_ERROR,
      `not a libvirt domain XML document${problem ? `: ${problem.split('\n')[0]}` : ''}`,
    );
  }
  return document;
}

export function isElement(node: Node): node is Element {
  return node.nodeType === node.ELEMENT_NODE;
}

export function children(parent: Element, tag: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (isElement(node) && node.nodeName === tag) found.push(node);
  }
  return found;
}

export function child(parent: Element, tag: string): Element | undefined {
  return children(parent, tag)[0];
}

/** Every element reached by following `tags` down from `root`, in document order. */
export function path(root: Element, ...tags: string[]): Element[] {
  let level = [root];
  for (const tag of tags) level = level.flatMap((element) => children(element, tag));
  return level;
}

/** An attribute's value; an empty value counts as absent, as libvirt treats it. */
export function attribute(element: Element | undefined, name: string): string | undefined {
  const value = element?.getAttribute(name);
  return value === null || value === undefined || value === '' ? undefined : value;
}

export function textOf(element: Element | undefined): string | undefined {
  const text = element?.textContent?.trim();
  return text ? text : undefined;
}

export function removeChildren(parent: Element): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
}

/**
 * Inserts `element` right after `reference`, indented like `reference`, so a clone's XML
 * still reads like libvirt's own output.
 */
export function insertAfter(reference: Element, element: Element): void {
  const parent = reference.parentNode;
  if (!parent) return;
  const next = reference.nextSibling;
  const indent = reference.previousSibling;
  if (indent && indent.nodeType === indent.TEXT_NODE && !indent.nodeValue?.trim()) {
    parent.insertBefore(indent.cloneNode(false), next);
  }
  parent.insertBefore(element, next);
}

/** Removes `element` and the indentation before it, so no blank line is left behind. */
export function removeElement(element: Element): void {
  const parent = element.parentNode;
  if (!parent) return;
  const indent = element.previousSibling;
  if (indent && indent.nodeType === indent.TEXT_NODE && !indent.nodeValue?.trim()) parent.removeChild(indent);
  parent.removeChild(element);
}

/** Text content with XML's special characters escaped. */
export function escapeXmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A value for a double-quoted XML attribute; whitespace escaped so that parsing gives it back as it was. */
export function escapeXmlAttribute(value: string): string {
  return escapeXmlText(value)
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}
