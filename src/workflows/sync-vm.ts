import { ApplicationFailure, CancelledFailure, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FrozenDisk } from '../hosts/live-snapshot';
import { chooseBlockHashTool, SYNC_BLOCK_SIZE, syncTileBytes, tileFile } from '../domain/block-delta';
import { destinationFileName } from '../domain/clone-rewrite';
import type { Consistency } from '../domain/clone-result';
import { joinPath, randomMac } from '../domain/clone-plan';
import { chooseCompression } from '../domain/compression';
import { backingChains, isLiveDisk, operationTag, overlayPathFor, type SourceFile } from '../domain/copied-file';
import { parseDomainXml, type CloneRewrite } from '../domain/domain-xml';
import { syncInputSchema, type SyncInput, type SyncOptions } from '../domain/schemas/sync-input';
import { validate } from '../domain/schemas/validate';
import type { FileSyncResult, SyncResult } from '../domain/sync-result';
import { ErrorCode, KvmCloneError } from '../errors';
import { failureFromInfo, failureInfo, toApplicationFailure } from '../failures';
import { cleanupOptions, hostCallOptions, transferOptions, verifyOptions } from './activity-options';
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

/** A source file and the destination file it updates. */
interface SyncedFile extends SourceFile {
  destinationPath: string;
  action: FileSyncResult['action'];
}

function fileKey(file: Pick<SourceFile, 'role' | 'target' | 'depth'>): string {
  return `${file.role}:${file.target}:${file.depth}`;
}

function directoryOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

/**
 * Brings an existing copy on the destination up to date with the source VM. Both hosts
 * hash their blocks in place and only differing blocks cross the wire; a running source
 * is snapshotted and merged back, as in a clone. The target keeps its name, UUID, MACs
 * and disk paths, and stays marked incomplete until a sync into it finishes.
 */
export async function syncVM(input: SyncInput): Promise<SyncResult> {
  return withNotifications(notifyOf(input), notifiedOperation('sync', input, input.targetName ?? input.vmName), () => syncOperation(input));
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

  const sync = async (): Promise<SyncResult> => {
    progress.phase = 'preflight';
    const inspection = await hostCalls.inspectSource({ source, vmName, copyCdroms: false, excludeDisks: [] });
    warnings.push(...inspection.warnings);
    const target = await hostCalls.inspectTarget({ destination, targetName, operationId });
    targetMarked = true;
    if (target.unfinishedOperation) warnings.push(`completing the interrupted sync ${target.unfinishedOperation}`);
    if (options.checkpoint) warnings.push('checkpoint change tracking is not available on these hosts yet; changed blocks are found by hashing');

    const targetFiles = new Map(target.files.map((file) => [fileKey(file), file]));
    const homeDir = directoryOf(target.files[0]?.sourcePath ?? '/');
    const files: SyncedFile[] = inspection.files.map((file) => {
      const existing = targetFiles.get(fileKey(file));
      if (!existing) {
        const destinationPath = file.role === 'tpm' && target.tpmDir ? joinPath(target.tpmDir, file.target) : joinPath(homeDir, destinationFileName(targetName, file));
        return { ...file, destinationPath, action: 'added' };
      }
      return { ...file, destinationPath: existing.sourcePath, action: existing.fileSize === file.fileSize ? 'updated' : 'resized' };
    });
    const sourceKeys = new Set(inspection.files.map(fileKey));
    const detachedDisks = target.files.filter((file) => file.role === 'disk' && !sourceKeys.has(fileKey(file))).map((file) => file.target);
    for (const disk of detachedDisks) warnings.push(`disk ${disk} is gone from the source; it is detached from '${targetName}' and its file kept`);
    const bytesAdded = files.filter((file) => file.action === 'added').reduce((sum, file) => sum + file.allocatedSize, 0);
    if (bytesAdded > target.freeBytes) {
      throw new KvmCloneError(ErrorCode.DISK_SPACE_ERROR, `the disks added on the source need ${bytesAdded} bytes; ${target.freeBytes} are free beside '${targetName}'`);
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
    }));
    let rangesRecopied = 0;
    // The relay is where the bandwidth limit is enforced; a direct push cannot be paced.
    const direct = options.bandwidthLimit === undefined ? options.direct : undefined;
    if (options.direct && !direct) warnings.push('bandwidthLimit is enforced by the relay, so this operation relays instead of pushing directly');
    const compression = chooseCompression(options.compress, inspection.compressors, target.tools);
    if (compression.warning) warnings.push(compression.warning);
    const hashTool = options.deltaOnly ? chooseBlockHashTool(inspection.hashers, target.tools) : 'none';
    if (options.deltaOnly && hashTool === 'none') warnings.push('neither python3 nor perl is on both hosts, so blocks cannot be compared in place; every disk is copied whole');
    if (options.deltaOnly && hashTool === 'perl') warnings.push('python3 is missing on a host; blocks are hashed with perl, which is slower');

    const added = files.filter((file) => file.action === 'added');
    if (added.length > 0) {
      const addedPaths = added.map((file) => file.destinationPath);
      compensations.add('remove the files of added disks', () => cleanup.removeClone({ destination, paths: addedPaths }));
      await hostCalls.prepareDisks({ destination, disks: added.map((file) => ({ path: file.destinationPath, size: file.fileSize })) });
    }
    const resized = files.filter((file) => file.action === 'resized');
    if (resized.length > 0) await hostCalls.resizeFiles({ destination, files: resized.map((file) => ({ path: file.destinationPath, size: file.fileSize })) });

    let consistency: Consistency = 'offline';
    if (inspection.state !== 'shut off') {
      progress.phase = 'snapshotting';
      const frozenDisks: FrozenDisk[] = files.filter(isLiveDisk).map((file) => ({ target: file.target, basePath: file.sourcePath, overlayPath: overlayPathFor(file.sourcePath, tag) }));
      const mergeBack = () => cleanup.mergeSource({ source, vmName, disks: frozenDisks, originalXml: inspection.inactiveXml }).then(() => undefined);
      const dropMerge = compensations.add('merge the source back', mergeBack);
      const frozen = await hostCalls.freezeSource({ source, vmName, disks: frozenDisks, quiesce: inspection.guestAgent });
      consistency = frozen.consistency;
      warnings.push(...frozen.warnings);
      await syncFiles();
      progress.phase = 'merging';
      await mergeBack();
      dropMerge();
    } else {
      await syncFiles();
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
      const bytesPerSecond = options.bandwidthLimit === undefined ? undefined : Math.max(1, Math.floor(options.bandwidthLimit / options.parallel));
      await runLimited(
        files.flatMap((file, index) =>
          tileFile(file.fileSize, tileBytes).map((range) => async () => {
            progress.disks[index]!.phase = 'copying';
            const request = {
              source,
              destination,
              sourcePath: file.sourcePath,
              destinationPath: file.destinationPath,
              range,
              hashTool,
              blockSize: SYNC_BLOCK_SIZE,
              compression: compression.codec,
              label: progress.disks[index]!.target,
              ...(bytesPerSecond ? { bytesPerSecond } : {}),
              ...(direct ? { direct } : {}),
            };
            // A new disk has nothing to compare against.
            const synced = await transfers.syncRange({ ...request, mode: file.action === 'added' || hashTool === 'none' ? 'full' : 'delta' });
            stats[index]!.bytesCompared += synced.bytesCompared;
            stats[index]!.bytesTransferred += synced.bytesSent;
            stats[index]!.blocksSynchronized += synced.blocksChanged;
            stats[index]!.bytesUnchanged += synced.bytesUnchanged;
            if (options.verify) {
              const check = () => verification.verifyRange({ source, destination, sourcePath: file.sourcePath, destinationPath: file.destinationPath, range });
              let digests = await check();
              if (digests.source.hex !== digests.destination.hex) {
                rangesRecopied++;
                warnings.push(`range ${range.start}+${range.length} of ${file.sourcePath} differed after the sync and was copied again`);
                stats[index]!.bytesTransferred += (await transfers.syncRange({ ...request, mode: 'full' })).bytesSent;
                digests = await check();
                if (digests.source.hex !== digests.destination.hex) {
                  throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `range ${range.start}+${range.length} of ${file.sourcePath} still differs after copying it again`);
                }
              }
            }
            progress.disks[index]!.bytesDone += range.length;
            progress.bytesDone += range.length;
          }),
        ),
        options.parallel,
      );
      if (options.verify) {
        progress.phase = 'verifying';
        await runLimited(
          files.map((file, index) => async () => {
            const digests = await verification.verifyFile({ source, destination, sourcePath: file.sourcePath, destinationPath: file.destinationPath });
            if (digests.source.hex !== digests.destination.hex) {
              throw new KvmCloneError(ErrorCode.TRANSFER_ERROR, `${file.destinationPath} differs from ${file.sourcePath} after the sync`);
            }
            stats[index]!.digest = { algorithm: digests.source.algorithm, source: digests.source.hex, destination: digests.destination.hex };
            progress.disks[index]!.phase = 'done';
          }),
          options.parallel,
        );
      }
    }

    progress.phase = 'defining';
    await hostCalls.finalizeFiles({ destination, renames: [], chains: backingChains(files), flatten: false });
    await hostCalls.defineClone({
      destination,
      sourceXml: inspection.inactiveXml,
      rewrite: syncRewrite(options, targetName, inspection.inactiveXml, target.inactiveXml, files),
      start: false,
      redefine: true,
    });

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
      changeTracking: hashTool === 'none' ? 'full-copy' : 'block-hash',
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
    await compensations.unwind();
    progress.phase = 'failed';
    if (timeout.timedOut) {
      throw ApplicationFailure.create({
        type: 'OPERATION_TIMEOUT',
        message: `sync of '${vmName}' did not finish within ${options.timeout} s; '${targetName}' stays marked incomplete until a sync finishes`,
        nonRetryable: true,
        details: [{ code: ErrorCode.OPERATION_TIMEOUT }],
      });
    }
    if (isCancellation(error)) throw new CancelledFailure(`sync of '${vmName}' was cancelled; '${targetName}' stays marked incomplete until a sync finishes`);
    const info = failureInfo(error);
    throw failureFromInfo(targetMarked ? { ...info, message: `${info.message}; '${targetName}' stays marked incomplete until a sync finishes` } : info);
  }
}

/**
 * The source's definition with the target's identity: its name, UUID, MACs (unless
 * preserveMac), disk and NVRAM paths, log directory and networks.
 */
function syncRewrite(options: SyncOptions, targetName: string, sourceXml: string, targetXml: string, files: SyncedFile[]): CloneRewrite {
  const source = parseDomainXml(sourceXml);
  const target = parseDomainXml(targetXml);
  const tops = files.filter((file) => file.role === 'disk');
  const nvram = files.find((file) => file.role === 'nvram');
  const networkMap: Record<string, string> = {};
  source.interfaces.forEach((iface, index) => {
    const kept = target.interfaces[index];
    if (iface.source && kept?.source && kept.type === iface.type) networkMap[iface.source] = kept.source;
  });
  const volumeDisks = Object.fromEntries(target.disks.filter((disk) => disk.type === 'volume' && disk.pool && disk.volume).map((disk) => [disk.target, { pool: disk.pool!, volume: disk.volume! }]));
  const rewrite: CloneRewrite = {
    newName: targetName,
    diskPaths: Object.fromEntries(tops.map((file) => [file.target, file.destinationPath])),
    logDir: directoryOf(target.logFiles[0] ?? tops[0]?.destinationPath ?? '/'),
    networkMap,
    volumeDisks,
  };
  if (target.uuid) rewrite.uuid = target.uuid;
  if (!options.preserveMac) rewrite.macAddresses = source.interfaces.map((_, index) => target.interfaces[index]?.mac ?? randomMac(Math.random));
  if (nvram) rewrite.nvramPath = nvram.destinationPath;
  return rewrite;
}
