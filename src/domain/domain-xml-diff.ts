import type { Element, Node } from '@xmldom/xmldom';
import { createTwoFilesPatch } from 'diff';
import { escapeXmlAttribute, escapeXmlText, isElement, parseDomainDocument } from './xml-dom';

const INDENT = '  ';

function openTag(element: Element): string {
  let tag = `<${element.nodeName}`;
  for (let index = 0; index < element.attributes.length; index += 1) {
    const attribute = element.attributes.item(index)!;
    tag += ` ${attribute.name}="${escapeXmlAttribute(attribute.value)}"`;
  }
  return tag;
}

/** Child nodes that carry meaning: indentation between elements does not. */
function significantChildren(element: Element): Node[] {
  const found: Node[] = [];
  for (let node = element.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === node.TEXT_NODE && !node.nodeValue?.trim()) continue;
    found.push(node);
  }
  return found;
}

function leafLine(node: Node): string | undefined {
  if (node.nodeType === node.TEXT_NODE) return escapeXmlText(node.nodeValue ?? '');
  if (node.nodeType === node.CDATA_SECTION_NODE) return `<![CDATA[${node.nodeValue ?? ''}]]>`;
  if (node.nodeType === node.COMMENT_NODE) return `<!--${node.nodeValue ?? ''}-->`;
  return undefined;
}

function prettyLines(element: Element, depth: number, lines: string[]): void {
  const indent = INDENT.repeat(depth);
  const nodes = significantChildren(element);
  const only = nodes[0];
  if (!only) {
    lines.push(`${indent}${openTag(element)}/>`);
    return;
  }
  if (nodes.length === 1 && only.nodeType === only.TEXT_NODE) {
    // `<name>web</name>` stays on one line, text exactly as written.
    lines.push(`${indent}${openTag(element)}>${leafLine(only)}</${element.nodeName}>`);
    return;
  }
  lines.push(`${indent}${openTag(element)}>`);
  for (const node of nodes) {
    if (isElement(node)) prettyLines(node, depth + 1, lines);
    else {
      const line = leafLine(node);
      if (line !== undefined) lines.push(`${INDENT.repeat(depth + 1)}${line.trim()}`);
    }
  }
  lines.push(`${indent}</${element.nodeName}>`);
}

/**
 * A domain document with one element per line, two-space indentation and double-quoted
 * attributes in document order, so documents from libvirt and from the rewrite line up.
 */
export function prettyDomainXml(xml: string): string {
  const lines: string[] = [];
  prettyLines(parseDomainDocument(xml).documentElement!, 0, lines);
  return `${lines.join('\n')}\n`;
}

/**
 * A unified diff between two domain documents, for a dry run to show what the clone's
 * definition changes. Empty when the two say the same thing.
 */
export function domainXmlDiff(
  before: string,
  after: string,
  labels: { before: string; after: string } = { before: 'source.xml', after: 'clone.xml' },
): string {
  const prettyBefore = prettyDomainXml(before);
  const prettyAfter = prettyDomainXml(after);
  if (prettyBefore === prettyAfter) return '';
  const patch = createTwoFilesPatch(labels.before, labels.after, prettyBefore, prettyAfter, undefined, undefined, {
    context: 3,
  });
  // The `====` banner that createTwoFilesPatch starts with is noise for a reader.
  return patch.slice(patch.indexOf('--- '));
}
