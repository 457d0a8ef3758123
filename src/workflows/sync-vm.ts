import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FrozenDisk } from '../hosts/live-snapshot';
import { chooseBlockHashTool, SYNC_BLOCK_SIZE, syncTileBytes, tileFile } from '../domain/block-delta';
import {
  checkpointPrefix,
  planChangeTracking,
  type ChangeTrackingPlan,
  type TrackedFileChanges,
} from '../domain/change-tracking';
import { clipExtents, mergeExtents } from '../domain/extent-set';
import { destinationFileName } from '../domain/clone-rewrite';
import type { Consistency } from '../domain/clone-result';
import { directoryOf, joinPath } from '../domain/paths';
import { chooseCompression } from '../domain/compression';
import {
  backingChains,
  isLiveDisk,
  operationTag,
  overlayPathFor,
  partialPathFor,
  type SourceFile,
} from '../domain/copied-file';
import { parseDomainXml } from '../domain/domain-xml';
import { syncInputSchema, type SyncInput, type SyncOptions } from '../domain/schemas/sync-input';
import { syncRewrite } from '../domain/sync-rewrite';
import { validate } from '../domain/schemas/validate';
import type { Extent } from '../domain/transfer-plan';
import type { FileSyncResult, SyncResult } from '../domain/sync-result';
import { ErrorCode, errorCodeName, KvmCloneError } from '../errors';
import { failureFromInfo, failureInfo, toApplicationFailure, type FailureInfo } from '../failures';
import {
  cleanupOptions,
  hostCallOptions,
  mergeBackOptions,
  optionalHostCallOptions,
  transferOptions,
  verifyOptions,
} from './activity-options';
import { operationFailure } from './cleanup-report';
import { Compensations } from './compensations';
import { hostLabel } from './host-label';
import { notifiedOperation, notifyOf, withNotifications } from './notifications';
import { progressQuery, type OperationProgress } from './progress';
import { runLimited } from './run-limited';
import { withTimeout, type TimeoutState } from './with-timeout';

const hostCalls = proxyActivities<Activities>(hostCallOptions);
const transfers = proxyActivities<Activities>(transferOptions);
const verification = proxyActivities<Activities>(verifyOptions);
const cleanup = proxyActivities<Activities>(cleanupOptions);
const mergeBacks = proxyActivities<Activities>(mergeBackOptions);
const optionalCalls = proxyActivities<Activities>(optionalHostCallOptions);

/** A source file and the destination file it updates. */
interface SyncedFile extends SourceFile {
  destinationPath: string;
  /** Where the sync writes the file: its destination path, or for an added disk a partial path that finalizeFiles renames. */
  writePath: string;
  action: FileSyncResult['action'];
  /** The destination file's size: the target's own, or what an added disk's file is created with. */
  destinationSize: number;
}

function fileKey(file: Pick<SourceFile, 'role' | 'target' | 'depth'>): string {
  return `${file.role}:${file.target}:${file.depth}`;
}

/**
 * Brings an existing copy on the destination up to date with the source VM. Both hosts
 * hash their blocks in place and only differing blocks cross the wire; a running source
 * is snapshotted and merged back, as in a clone. The target keeps its name, UUID, MACs
 * and disk paths, and stays marked incomplete until a sync into it finishes.
 *
 * The sync holds the destination lock on the target's name (the one clones take on their
 * new name), writes added disks under partial names renamed at the end, and redefines the
 * target only while it is still the domain it inspected (same UUID). An undo that fails
 * makes the failure say what it left (1201, see cleanup-report.ts).
 */
export async function syncVM(input: SyncInput): Promise<SyncResult> {
  return withNotifications(notifyOf(input), notifiedOperation('sync', input, input.targetName ?? input.vmName), () =>
    syncOperation(input),
  );
}

/** syncVM without its notifications. */
async function syncOperation(input: SyncInput): Promise<SyncResult> {
  const startedAt = Date.now();
  const progress: OperationProgress = { phase: 'validating', disks: [], bytesTotal: 0, bytesDone: 0 };
  setHandler(progressQuery, () => progress);

  let options: SyncOptions;
  try {
    options = validate(syncInputSchema, input, 'sync input');
  } catch (error) {
    throw toApplicationFailure(error);
  }
  const { source, destination, vmName } = options;
  const targetName = options.targetName ?? vmName;
  const operationId = workflowInfo().workflowId;
  const tag = operationTag(operationId, workflowInfo().runId);
  const compensations = new Compensations();
  const warnings: string[] = [];
  const timeout: TimeoutState = { timedOut: false };
  /** Once the target is marked incomplete, every failure says so: it must not be started. */
  let targetMarked = false;
  // Runs started before the destination lock and partial files for added disks keep their old commands.
  const ownsDestination = patched('destination-lock');

  const sync = async (): Promise<SyncResult> => {
    progress.phase = 'preflight';
    if (ownsDestination) {
      await hostCalls.acquireDestinationLock({ destination, name: targetName });
      // Registered once held (so unwound last): a lock never acquired, on a host never reached, needs no release.
      compensations.add(
        'release the destination lock',
        () => cleanup.releaseDestinationLock({ destination, name: targetName }),
        `'${targetName}' stays locked on ${hostLabel(destination)}`,
      );
    }
    const inspection = await hostCalls.inspectSource({
      source,
      destination,
      vmName,
      copyCdroms: false,
      excludeDisks: [],
    });
    warnings.push(...inspection.warnings);
    const target = await hostCalls.inspectTarget({ destination, targetName, operationId });
    targetMarked = true;
    if (target.unfinishedOperation) warnings.push(`completing the interrupted sync ${target.unfinishedOperation}`);

    const targetFiles = new Map(target.files.map((file) => [fileKey(file), file]));
    const homeDir = directoryOf(target.files[0]?.sourcePath ?? '/');
    const files: SyncedFile[] = inspection.files.map((file) => {
      const existing = targetFiles.get(fileKey(file));
      if (!existing) {
        const destinationPath =
          file.role === 'tpm' && target.tpmDir
            ? joinPath(target.tpmDir, file.target)
            : joinPath(homeDir, destinationFileName(targetName, file));
        const writePath = ownsDestination ? partialPathFor(destinationPath, tag) : destinationPath;
        return { ...file, destinationPath, writePath, action: 'added', destinationSize: file.fileSize };
      }
      return {
        ...file,
        destinationPath: existing.sourcePath,
        writePath: existing.sourcePath,
        action: existing.fileSize === file.fileSize ? 'updated' : 'resized',
        destinationSize: existing.fileSize,
      };
    });
    const sourceKeys = new Set(inspection.files.map(fileKey));
    const detachedDisks = target.files
      .filter((file) => file.role === 'disk' && !sourceKeys.has(fileKey(file)))
      .map((file) => file.target);
    for (const disk of detachedDisks)
      warnings.push(`disk ${disk} is gone from the source; it is detached from '${targetName}' and its file kept`);
    const bytesAdded = files
      .filter((file) => file.action === 'added')
      .reduce((sum, file) => sum + file.allocatedSize, 0);
    if (bytesAdded > target.freeBytes) {
      throw new KvmCloneError(
        ErrorCode.DISK_SPACE_ERROR,
        `the disks added on the source need ${bytesAdded} bytes; ${target.freeBytes} are free beside '${targetName}'`,
      );
    }

    const stats: FileSyncResult[] = files.map((file) => ({
      role: file.role,
      target: file.target,
      sourcePath: file.sourcePath,
      destinationPath: file.destinationPath,
      action: file.action,
      bytesCompared: 0,
      bytesTransferred: 0,
      blocksSynchronized: 0,
      bytesUnchanged: 0,
      changeTracking: 'block-hash',
      verification: options.verify ? 'file' : 'none',
    }));
    let rangesRecopied = 0;
    // The relay is where the bandwidth limit is enforced; a direct push cannot be paced.
    const direct = options.bandwidthLimit === undefined ? options.direct : undefined;
    if (options.direct && !direct)
      warnings.push('bandwidthLimit is enforced by the relay, so this operation relays instead of pushing directly');
    const compression = chooseCompression(options.compress, inspection.compressors, target.tools);
    if (compression.warning) warnings.push(compression.warning);
    const hashTool = options.deltaOnly ? chooseBlockHashTool(inspection.hashers, target.tools) : 'none';
    if (options.deltaOnly && hashTool === 'none')
      warnings.push(
        'neither python3 nor perl is on both hosts, so blocks cannot be compared in place; every disk is copied whole',
      );
    if (options.deltaOnly && hashTool === 'perl')
      warnings.push('python3 is missing on a host; blocks are hashed with perl, which is slower');

    const sourceUuid = parseDomainXml(inspection.inactiveXml).uuid;
    const prefix = checkpointPrefix(
      parseDomainXml(target.inactiveXml).uuid ?? `${hostLabel(destination)}/${targetName}`,
    );
    const newCheckpoint = `${prefix}${Date.now()}`;
    let checkpointCreated = false;
    let tracking: ChangeTrackingPlan = { bitmapTargets: [], trackedTargets: [], warnings: [] };
    if (options.checkpoint) {
      tracking = planChangeTracking({
        sourceRunning: inspection.state !== 'shut off',
        sourceUuid,
        targetName,
        files,
        record: target.checkpoint,
        fingerprints: target.fingerprints,
      });
      warnings.push(...tracking.warnings);
      // A full re-copy or a copy without hashing reads no bitmap, but still leaves a checkpoint for the next sync.
      if (!options.deltaOnly || hashTool === 'none') tracking = { ...tracking, trackedTargets: [] };
    }
    /** What the previous checkpoint's bitmap says changed, by disk target. */
    const trackedChanges = new Map<string, TrackedFileChanges>();

    const added = files.filter((file) => file.action === 'added');
    if (added.length > 0) {
      // Only what this sync creates: the added disks' partial files (their final names are taken at the end).
      const addedPaths = added.map((file) => file.writePath);
      compensations.add(
        'remove the files of added disks',
        () => cleanup.removeClone({ destination, paths: addedPaths }),
        `files of added disks may remain on ${hostLabel(destination)}: ${addedPaths.join(', ')}`,
      );
      await hostCalls.prepareDisks({
        destination,
        disks: added.map((file) => ({ path: file.writePath, size: file.fileSize })),
      });
    }
    /** Gives each destination file its source's size, as measured last (after the freeze, for a running source). */
    const matchSizes = async (): Promise<void> => {
      const differing = files.filter((file) => file.destinationSize !== file.fileSize);
      if (differing.length === 0) return;
      await hostCalls.resizeFiles({
        destination,
        files: differing.map((file) => ({ path: file.writePath, size: file.fileSize })),
      });
      for (const file of differing) {
        file.destinationSize = file.fileSize;
        if (file.action === 'updated') file.action = 'resized';
        stats[files.indexOf(file)]!.action = file.action;
      }
    };

    let consistency: Consistency = 'offline';
    if (inspection.state !== 'shut off') {
      progress.phase = 'snapshotting';
      const frozenDisks: FrozenDisk[] = files.filter(isLiveDisk).map((file) => ({
        target: file.target,
        basePath: file.sourcePath,
        overlayPath: overlayPathFor(file.sourcePath, tag),
      }));
      const mergeBack = () =>
        mergeBacks
          .mergeSource({ source, vmName, disks: frozenDisks, originalXml: inspection.inactiveXml })
          .then(() => undefined);
      if (tracking.bitmapTargets.length > 0 && sourceUuid) {
        // Before the freeze: every write after this instant is in the new bitmap, so the next sync misses none.
        const keep = target.checkpoint ? [target.checkpoint.name] : [];
        compensations.add('remove the new checkpoint', () =>
          cleanup.removeCheckpoints({ source, vmName, prefix, keep }).then(() => undefined),
        );
        checkpointCreated = await optional('create a checkpoint for the next sync', () =>
          optionalCalls.createCheckpoint({
            source,
            vmName,
            name: newCheckpoint,
            bitmapTargets: tracking.bitmapTargets,
          }),
        );
      }
      const dropMerge = compensations.add(
        'merge the source back',
        mergeBack,
        `'${vmName}' on ${hostLabel(source)} may still run on its overlays ${frozenDisks.map((disk) => disk.overlayPath).join(', ')}`,
      );
      const frozen = await hostCalls.freezeSource({
        source,
        vmName,
        disks: frozenDisks,
        quiesce: inspection.guestAgent,
      });
      consistency = frozen.consistency;
      warnings.push(...frozen.warnings);
      for (const file of files) file.fileSize = frozen.sizes?.[file.sourcePath] ?? file.fileSize;
      await matchSizes();
      if (tracking.since && tracking.trackedTargets.length > 0) await readTrackedChanges(tracking.since);
      await syncFiles();
      progress.phase = 'merging';
      await mergeBack();
      dropMerge();
    } else {
      await matchSizes();
      await syncFiles();
    }

    /** Lets a change-tracking step fail without failing the sync: it says why and the sync hashes. */
    async function optional(what: string, step: () => Promise<unknown>): Promise<boolean> {
      try {
        await step();
        return true;
      } catch (error) {
        if (isCancellation(error)) throw error;
        warnings.push(`could not ${what} (${failureInfo(error).message}); changed blocks are found by hashing`);
        return false;
      }
    }

    async function readTrackedChanges(since: string): Promise<void> {
      const disks = files.filter(
        (file) => file.role === 'disk' && file.depth === 0 && tracking.trackedTargets.includes(file.target),
      );
      await optional(`read checkpoint ${since}'s bitmaps`, async () => {
        const tracked = await optionalCalls.trackChanges({
          source,
          vmName,
          since,
          disks: disks.map((file) => ({ target: file.target, path: file.sourcePath, fileSize: file.fileSize })),
          blockSize: SYNC_BLOCK_SIZE,
          tag,
        });
        if ('unavailable' in tracked) warnings.push(`${tracked.unavailable}; changed blocks are found by hashing`);
        else for (const [diskTarget, changes] of Object.entries(tracked.disks)) trackedChanges.set(diskTarget, changes);
      });
    }

    async function syncFiles(): Promise<void> {
      progress.phase = 'copying';
      progress.disks = files.map((file) => ({
        target: file.role === 'disk' ? file.target : `${file.target}:${file.role}${file.depth || ''}`,
        bytesTotal: file.fileSize,
        bytesDone: 0,
        phase: 'pending',
      }));
      progress.bytesTotal = files.reduce((sum, file) => sum + file.fileSize, 0);
      const tileBytes = syncTileBytes(progress.bytesTotal, options.parallel);
      const bytesPerSecond =
        options.bandwidthLimit === undefined
          ? undefined
          : Math.max(1, Math.floor(options.bandwidthLimit / options.parallel));
      const trackedOf = (file: SyncedFile) =>
        file.role === 'disk' && file.depth === 0 ? trackedChanges.get(file.target) : undefined;
      files.forEach((file, index) => {
        stats[index]!.changeTracking =
          file.action === 'added' || hashTool === 'none' ? 'full-copy' : trackedOf(file) ? 'checkpoint' : 'block-hash';
        if (options.verify && trackedOf(file) && !options.fullVerify) stats[index]!.verification = 'synced-ranges';
      });

      const requestFor = (index: number, range: Extent) => {
        const file = files[index]!;
        return {
          source,
          destination,
          sourcePath: file.sourcePath,
          destinationPath: file.writePath,
          range,
          hashTool,
          blockSize: SYNC_BLOCK_SIZE,
          compression: compression.codec,
          label: progress.disks[index]!.target,
          ...(bytesPerSecond ? { bytesPerSecond } : {}),
          ...(direct ? { direct } : {}),
        };
      };

      /**
       * SHA-256 on both hosts of what the sync wrote or compared in a tile (`undefined`: the
       * whole tile). A tile that differs is copied again whole, once; then it is 1006.
       */
      const verifyTile = async (index: number, range: Extent, extents: Extent[] | undefined): Promise<void> => {
        if (!options.verify || extents?.length === 0) return;
        const file = files[index]!;
        const check = (only?: Extent[]) =>
          verification.verifyRange({
            source,
            destination,
            sourcePath: file.sourcePath,
            destinationPath: file.writePath,
            range,
            ...(only ? { extents: only } : {}),
          });
        let digests = await check(extents);
        if (digests.source.hex === digests.destination.hex) return;
        rangesRecopied++;
        warnings.push(
          `range ${range.start}+${range.length} of ${file.sourcePath} differed after the sync and was copied again`,
        );
        stats[index]!.bytesTransferred += (
          await transfers.syncRange({ ...requestFor(index, range), mode: 'full' })
        ).bytesSent;
        digests = await check();
        if (digests.source.hex !== digests.destination.hex) {
          throw new KvmCloneError(
            ErrorCode.TRANSFER_ERROR,
            `range ${range.start}+${range.length} of ${file.sourcePath} still differs after copying it again`,
          );
        }
      };

      /** One tile of one file: send what differs, then check what was sent. */
      const syncTile = async (index: number, range: Extent, tracked: TrackedFileChanges | undefined): Promise<void> => {
        const file = files[index]!;
        progress.disks[index]!.phase = 'copying';
        const request = requestFor(index, range);
        const account = (synced: {
          bytesCompared: number;
          bytesSent: number;
          blocksChanged: number;
          bytesUnchanged: number;
        }) => {
          stats[index]!.bytesCompared += synced.bytesCompared;
          stats[index]!.bytesTransferred += synced.bytesSent;
          stats[index]!.blocksSynchronized += synced.blocksChanged;
          stats[index]!.bytesUnchanged += synced.bytesUnchanged;
        };
        if (tracked) {
          const inTile = { changed: clipExtents(tracked.changed, range), compare: clipExtents(tracked.compare, range) };
          // Nothing written and nothing to compare: the bitmap vouches for the whole tile.
          if (inTile.changed.length === 0 && inTile.compare.length === 0)
            account({ bytesCompared: 0, bytesSent: 0, blocksChanged: 0, bytesUnchanged: range.length });
          else account(await transfers.syncRange({ ...request, mode: 'tracked', tracked: inTile }));
          // What was written or compared is checked; the bitmap vouches for the rest of the tile.
          await verifyTile(index, range, mergeExtents([...inTile.changed, ...inTile.compare]));
        } else {
          // A new disk has nothing to compare against.
          const mode = file.action === 'added' || hashTool === 'none' ? 'full' : 'delta';
          const synced = await transfers.syncRange({ ...request, mode });
          account(synced);
          // A delta checks the blocks it wrote (a result without `written`, from an older worker, checks the tile); the whole-file digest covers the blocks whose CRC-32 matched.
          await verifyTile(index, range, mode === 'delta' ? synced.written : undefined);
        }
        progress.disks[index]!.bytesDone += range.length;
        progress.bytesDone += range.length;
      };

      await runLimited(
        files.flatMap((file, index) =>
          tileFile(file.fileSize, tileBytes).map((range) => () => syncTile(index, range, trackedOf(file))),
        ),
        options.parallel,
      );
      if (options.verify) {
        progress.phase = 'verifying';
        await runLimited(
          files.map((file, index) => async () => {
            if (stats[index]!.verification === 'synced-ranges') {
              progress.disks[index]!.phase = 'done';
              return;
            }
            let digests = await verification.verifyFile({
              source,
              destination,
              sourcePath: file.sourcePath,
              destinationPath: file.writePath,
            });
            if (digests.source.hex !== digests.destination.hex) {
              // Something the delta could not see: a CRC-32 collision, or a write the bitmap missed. The tiles that differ are copied again.
              warnings.push(
                `${file.destinationPath} still differed from its source after the sync; the tiles that differ were copied again`,
              );
              for (const range of tileFile(file.fileSize, tileBytes)) await verifyTile(index, range, undefined);
              digests = await verification.verifyFile({
                source,
                destination,
                sourcePath: file.sourcePath,
                destinationPath: file.writePath,
              });
            }
            if (digests.source.hex !== digests.destination.hex) {
              throw new KvmCloneError(
                ErrorCode.TRANSFER_ERROR,
                `${file.destinationPath} differs from ${file.sourcePath} after the sync`,
              );
            }
            stats[index]!.digest = {
              algorithm: digests.source.algorithm,
              source: digests.source.hex,
              destination: digests.destination.hex,
            };
            progress.disks[index]!.phase = 'done';
          }),
          options.parallel,
        );
      }
    }

    progress.phase = 'defining';
    const renames = files
      .filter((file) => file.writePath !== file.destinationPath)
      .map((file) => ({ from: file.writePath, to: file.destinationPath }));
    if (renames.length > 0) {
      // Only files this sync's renames made: a rename refused because a file was in the way must not make the cleanup remove that file.
      compensations.add(
        'remove the renamed files of added disks',
        () => cleanup.removeRenamedFiles({ destination, renames }),
        `files of added disks may remain on ${hostLabel(destination)}: ${renames.map((rename) => rename.to).join(', ')}`,
      );
    }
    await hostCalls.finalizeFiles({ destination, renames, chains: backingChains(files), flatten: false });
    await hostCalls.defineClone({
      destination,
      sourceXml: inspection.inactiveXml,
      rewrite: syncRewrite({
        targetName,
        preserveMac: options.preserveMac,
        sourceXml: inspection.inactiveXml,
        targetXml: target.inactiveXml,
        files,
        random: Math.random,
      }),
      start: false,
      redefine: true,
      // Read on the worker at the define, so no password passes through history.
      graphicsPasswordsFrom: { source, vmName },
      // Added disks join the target's clone record, so the next sync writes into them too.
      operationId,
      createdFiles: files
        .filter((file) => file.action === 'added' && file.role !== 'tpm')
        .map((file) => file.destinationPath),
    });

    let checkpointLeft: string | undefined;
    if (checkpointCreated && sourceUuid) {
      const paths = files
        .filter((file) => tracking.bitmapTargets.includes(file.target) && file.role === 'disk' && file.depth === 0)
        .map((file) => file.destinationPath);
      const recorded = await optional(`record checkpoint ${newCheckpoint} on '${targetName}'`, () =>
        optionalCalls.recordCheckpoint({ destination, targetName, checkpoint: newCheckpoint, sourceUuid, paths }),
      );
      if (recorded) checkpointLeft = newCheckpoint;
      // The old checkpoints of this target are spent; an unrecorded new one is useless.
      await optional('remove spent checkpoints', () =>
        optionalCalls.removeCheckpoints({ source, vmName, prefix, keep: recorded ? [newCheckpoint] : [] }),
      );
    }

    if (ownsDestination) {
      try {
        // The sync is done: a cancellation or timeout arriving now must not leave the lock behind.
        await CancellationScope.nonCancellable(() => cleanup.releaseDestinationLock({ destination, name: targetName }));
      } catch (error) {
        warnings.push(`the lock on '${targetName}' could not be released: ${failureInfo(error).message}`);
      }
    }

    progress.phase = 'done';
    const sum = (pick: (file: FileSyncResult) => number) => stats.reduce((total, file) => total + pick(file), 0);
    return {
      operationId,
      success: true,
      vmName,
      targetName,
      sourceHost: hostLabel(source),
      destinationHost: hostLabel(destination),
      durationSeconds: (Date.now() - startedAt) / 1000,
      bytesTransferred: sum((file) => file.bytesTransferred),
      blocksSynchronized: sum((file) => file.blocksSynchronized),
      bytesCompared: sum((file) => file.bytesCompared),
      bytesUnchanged: sum((file) => file.bytesUnchanged),
      blockSize: SYNC_BLOCK_SIZE,
      changeTracking: stats.some((file) => file.changeTracking === 'checkpoint')
        ? 'checkpoint'
        : hashTool === 'none'
          ? 'full-copy'
          : 'block-hash',
      ...(checkpointLeft ? { checkpoint: checkpointLeft } : {}),
      hashTool,
      files: stats,
      consistency,
      compression: compression.codec,
      transport: direct ? 'direct' : 'relay',
      rangesRecopied,
      detachedDisks,
      ...(target.unfinishedOperation ? { completedUnfinished: target.unfinishedOperation } : {}),
      warnings,
    };
  };

  try {
    return await withTimeout(options.timeout, timeout, sync);
  } catch (error) {
    progress.phase = 'cleaning-up';
    const cleanupFailures = await compensations.unwind();
    progress.phase = 'failed';
    const incomplete = targetMarked ? `; '${targetName}' stays marked incomplete until a sync finishes` : '';
    if (cleanupFailures.length > 0) {
      // Whatever ended the sync, what cleanup left is the news: 1201, with the first cause in the details.
      const cause: FailureInfo = timeout.timedOut
        ? {
            code: ErrorCode.OPERATION_TIMEOUT,
            codeName: errorCodeName(ErrorCode.OPERATION_TIMEOUT),
            message: `sync of '${vmName}' did not finish within ${options.timeout} s${incomplete}`,
          }
        : isCancellation(error)
          ? {
              code: ErrorCode.OPERATION_CANCELLED_ERROR,
              codeName: errorCodeName(ErrorCode.OPERATION_CANCELLED_ERROR),
              message: `sync of '${vmName}' was cancelled${incomplete}`,
            }
          : { ...failureInfo(error), message: `${failureInfo(error).message}${incomplete}` };
      throw operationFailure('sync', cause, cleanupFailures);
    }
    if (timeout.timedOut) {
      throw ApplicationFailure.create({
        type: 'OPERATION_TIMEOUT',
        message: `sync of '${vmName}' did not finish within ${options.timeout} s; '${targetName}' stays marked incomplete until a sync finishes`,
        nonRetryable: true,
        details: [{ code: ErrorCode.OPERATION_TIMEOUT }],
      });
    }
    if (isCancellation(error))
      throw new CancelledFailure(
        `sync of '${vmName}' was cancelled; '${targetName}' stays marked incomplete until a sync finishes`,
      );
    const info = failureInfo(error);
    throw failureFromInfo(
      targetMarked
        ? { ...info, message: `${info.message}; '${targetName}' stays marked incomplete until a sync finishes` }
        : info,
    );
  }
}
