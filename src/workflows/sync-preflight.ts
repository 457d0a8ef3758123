import type { SourceInspection } from '../activities/inspect-source';
import type { TargetInspection } from '../activities/inspect-target';
import type { BlockHashTool } from '../domain/block-delta';
import type { SyncOptions } from '../domain/schemas/sync-input';
import {
  assertRoomForAddedDisks,
  chooseHashing,
  detachedDisks,
  matchTargetFiles,
  type SyncedFile,
} from '../domain/sync-plan';
import { preflightCalls } from './activity-proxies';
import { chooseDataPath, type DataPath } from './data-path';
import type { Operation } from './operation';
import type { SyncTarget } from './sync-target';

/** What the preflight found out and decided: everything the sync needs before it changes a host. */
export interface SyncSetup {
  inspection: SourceInspection;
  target: TargetInspection;
  /** Each source file with the target file it updates. */
  files: SyncedFile[];
  detachedDisks: string[];
  dataPath: DataPath;
  hashTool: BlockHashTool;
}

/**
 * Inspects the source and the target (which marks the target incomplete), pairs their
 * files, and checks that added disks fit, before any byte moves. What the hosts or the
 * options cannot have is a warning.
 */
export async function syncSetup(
  operation: Operation<SyncOptions>,
  syncTarget: SyncTarget,
  ownsDestination: boolean,
): Promise<SyncSetup> {
  const { options, warnings } = operation;
  const { source, destination, vmName } = options;
  const inspection = await preflightCalls.inspectSource({
    source,
    destination,
    vmName,
    copyCdroms: false,
    excludeDisks: [],
  });
  warnings.push(...inspection.warnings);
  const target = await syncTarget.inspect();
  const targetFiles = {
    name: syncTarget.name,
    files: target.files,
    ...(target.tpmDir ? { tpmDir: target.tpmDir } : {}),
    freeBytes: target.freeBytes,
  };
  // Runs from before the destination lock write added disks under their final names.
  const partialTag = ownsDestination ? { partialTag: operation.tag } : {};
  const files = matchTargetFiles(inspection.files, targetFiles, { verify: options.verify, ...partialTag });
  const detached = detachedDisks(inspection.files, target.files);
  for (const disk of detached)
    warnings.push(`disk ${disk} is gone from the source; it is detached from '${syncTarget.name}' and its file kept`);
  assertRoomForAddedDisks(files, targetFiles);
  const dataPath = chooseDataPath(options, inspection.compressors, target.tools, warnings);
  const hashing = chooseHashing(options.deltaOnly, inspection.hashers, target.tools);
  warnings.push(...hashing.warnings);
  return { inspection, target, files, detachedDisks: detached, dataPath, hashTool: hashing.hashTool };
}
