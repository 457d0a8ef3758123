import { alignExtents, boundExtents, mergeExtents, subtractExtents } from './extent-set';
import { shortHash } from './short-hash';
import type { Extent } from './transfer-plan';

/**
 * How a sync found a file's changed blocks: libvirt checkpoint bitmaps, block hashes on
 * both hosts, or neither (the file was copied whole).
 */
export type ChangeTracking = 'checkpoint' | 'block-hash' | 'full-copy';

/** One entry of `qemu-img map --output=json` of a qcow2 image: guest bytes and where the file holds them. */
export interface ImageMapEntry {
  start: number;
  length: number;
  /** 0 when the image itself holds the bytes; deeper layers are other files. */
  depth: number;
  /** The file offset of the bytes; absent for holes, zero clusters without storage and compressed clusters. */
  offset?: number;
}

/** The file ranges a checkpoint-tracked sync sends without comparing, and those it still compares. */
export interface TrackedFileChanges {
  /** Clusters holding guest data the bitmap saw written since the last sync. */
  changed: Extent[];
  /**
   * Everything else that is not guest data: qcow2 metadata (header, L1/L2 and refcount
   * tables, bitmaps) and freed clusters. The bitmap knows nothing about them, so they
   * are compared by block hash; they are a small part of an image.
   */
  compare: Extent[];
}

/** Extents per list a tracked file may carry through workflow history. */
export const MAX_TRACKED_EXTENTS = 4096;

/**
 * Turns a dirty bitmap (guest offsets) into file ranges of the qcow2 image that holds the
 * guest data. Sound because the destination file was byte-identical to the source after
 * the last sync: a guest cluster keeps its file offset until the guest writes or discards
 * it, and both mark it dirty; everything that is not guest data is compared.
 */
export function trackedFileChanges(
  dirty: readonly Extent[],
  map: readonly ImageMapEntry[],
  fileSize: number,
  blockSize: number,
): TrackedFileChanges {
  const stored = map
    .filter((entry): entry is ImageMapEntry & { offset: number } => entry.depth === 0 && entry.offset !== undefined)
    .sort((a, b) => a.start - b.start);
  const dirtyMerged = mergeExtents(dirty);
  const changedInFile: Extent[] = [];
  let cursor = 0;
  for (const entry of stored) {
    const entryEnd = entry.start + entry.length;
    while (cursor < dirtyMerged.length && dirtyMerged[cursor]!.start + dirtyMerged[cursor]!.length <= entry.start)
      cursor++;
    for (let index = cursor; index < dirtyMerged.length && dirtyMerged[index]!.start < entryEnd; index++) {
      const extent = dirtyMerged[index]!;
      const start = Math.max(extent.start, entry.start);
      const end = Math.min(extent.start + extent.length, entryEnd);
      if (end > start) changedInFile.push({ start: entry.offset + (start - entry.start), length: end - start });
    }
  }
  const guestData = alignExtents(
    stored.map((entry) => ({ start: entry.offset, length: entry.length })),
    1,
    fileSize,
  );
  const changed = alignExtents(changedInFile, blockSize, fileSize);
  // Widening to blocks is safe only outward; a compared block that overlaps guest data is just compared.
  const compare = subtractExtents(
    alignExtents(subtractExtents([{ start: 0, length: fileSize }], guestData), blockSize, fileSize),
    changed,
  );
  return { changed: boundExtents(changed, MAX_TRACKED_EXTENTS), compare: boundExtents(compare, MAX_TRACKED_EXTENTS) };
}

/**
 * The prefix of the checkpoints kept on a source for one sync target: each standby of a
 * VM has its own, so syncing one never deletes the checkpoint another relies on. Named
 * by the target's UUID, which stays the same however its host is addressed.
 */
export function checkpointPrefix(targetUuid: string): string {
  return `kvm-clone-${shortHash(targetUuid)}-`;
}

/** What a completed checkpoint sync leaves on the destination for the next one. */
export interface CheckpointRecord {
  /** The source checkpoint whose moment the destination's disks equal. */
  name: string;
  sourceUuid: string;
  /** Size and times of each destination file when the sync finished, by path. */
  fingerprints: Record<string, string>;
}

/** A disk as the change-tracking plan sees it. */
export interface TrackableFile {
  role: string;
  target: string;
  depth: number;
  format: string;
  action: 'updated' | 'added' | 'resized';
  destinationPath: string;
}

export interface ChangeTrackingPlan {
  /** Disk targets the new checkpoint records a bitmap for. */
  bitmapTargets: string[];
  /** Disk targets whose changes come from the previous checkpoint's bitmap. */
  trackedTargets: string[];
  /** The checkpoint those changes are read since. */
  since?: string;
  warnings: string[];
}

export interface ChangeTrackingFacts {
  sourceRunning: boolean;
  sourceUuid: string | undefined;
  targetName: string;
  files: readonly TrackableFile[];
  record: CheckpointRecord | undefined;
  /** Size and times of each destination file now, by path. */
  fingerprints: Record<string, string>;
}

/**
 * Which disks a `checkpoint: true` sync can track with bitmaps, and why the others fall
 * back to hashing. Bitmaps live in qcow2 top images, and libvirt creates checkpoints only
 * on running domains. A recorded checkpoint is trusted only when the destination's files
 * are exactly as the last sync left them.
 */
export function planChangeTracking(facts: ChangeTrackingFacts): ChangeTrackingPlan {
  const plan: ChangeTrackingPlan = { bitmapTargets: [], trackedTargets: [], warnings: [] };
  if (!facts.sourceRunning) {
    plan.warnings.push(
      'checkpoints track a running source, and this one is shut off; changed blocks are found by hashing',
    );
    return plan;
  }
  const disks = facts.files.filter((file) => file.role === 'disk' && file.depth === 0);
  for (const disk of disks) {
    if (disk.format === 'qcow2') plan.bitmapTargets.push(disk.target);
    else
      plan.warnings.push(`disk ${disk.target} is ${disk.format}, and dirty bitmaps need qcow2; its blocks are hashed`);
  }
  const candidates = disks.filter((disk) => disk.format === 'qcow2' && disk.action !== 'added');
  if (candidates.length === 0) return plan;
  const record = facts.record;
  if (!record) {
    plan.warnings.push(
      `no checkpoint from an earlier sync into '${facts.targetName}'; this sync hashes, and leaves a checkpoint for the next one`,
    );
    return plan;
  }
  if (!facts.sourceUuid || record.sourceUuid !== facts.sourceUuid) {
    plan.warnings.push(
      `the last checkpoint sync into '${facts.targetName}' came from another VM; changed blocks are found by hashing`,
    );
    return plan;
  }
  for (const disk of candidates) {
    const recorded = record.fingerprints[disk.destinationPath];
    if (recorded !== undefined && recorded === facts.fingerprints[disk.destinationPath])
      plan.trackedTargets.push(disk.target);
    else
      plan.warnings.push(
        `${disk.destinationPath} changed on the destination since the last sync, so checkpoint ${record.name} cannot vouch for it; its blocks are hashed`,
      );
  }
  if (plan.trackedTargets.length > 0) plan.since = record.name;
  return plan;
}
