import { DOMParser } from '@xmldom/xmldom';
import type { CheckpointRecord } from './change-tracking';
import { attribute, children } from './xml-dom';

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;');
}

/** The record as the element kept in the destination domain's metadata. */
export function checkpointRecordXml(record: CheckpointRecord): string {
  const files = Object.entries(record.fingerprints).map(([path, fingerprint]) => `<file path="${escapeAttribute(path)}" stat="${escapeAttribute(fingerprint)}"/>`);
  return `<checkpoint name="${escapeAttribute(record.name)}" source-uuid="${escapeAttribute(record.sourceUuid)}">${files.join('')}</checkpoint>`;
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
