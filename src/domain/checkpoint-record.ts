import { DOMParser } from '@xmldom/xmldom';
import type { CheckpointRecord } from './change-tracking';
import { attribute, children, escapeXmlAttribute } from './xml-dom';

/** The record as the element kept in the destination domain's metadata. */
export function checkpointRecordXml(record: CheckpointRecord): string {
  const files = Object.entries(record.fingerprints).map(
    ([path, fingerprint]) => `<file path="${escapeXmlAttribute(path)}" stat="${escapeXmlAttribute(fingerprint)}"/>`,
  );
  return `<checkpoint name="${escapeXmlAttribute(record.name)}" source-uuid="${escapeXmlAttribute(record.sourceUuid)}">${files.join('')}</checkpoint>`;
}

/** The record from `virsh metadata` output; anything unreadable is no record, so the sync hashes. */
export function parseCheckpointRecord(xml: string): CheckpointRecord | undefined {
  let root;
  try {
    root = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml').documentElement;
  } catch {
    return undefined;
  }
  const name = attribute(root ?? undefined, 'name');
  const sourceUuid = attribute(root ?? undefined, 'source-uuid');
  if (!root || root.nodeName !== 'checkpoint' || !name || !sourceUuid) return undefined;
  const fingerprints: Record<string, string> = {};
  for (const file of children(root, 'file')) {
    const path = attribute(file, 'path');
    const stat = attribute(file, 'stat');
    if (path !== undefined && stat !== undefined) fingerprints[path] = stat;
  }
  return { name, sourceUuid, fingerprints };
}
