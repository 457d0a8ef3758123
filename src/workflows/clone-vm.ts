import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PlannedDisk } from '../domain/clone-plan';
import { destinationDiskFileName, joinPath, randomMac } from '../domain/clone-plan';
import type { CloneResult, DiskCopyResult } from '../domain/clone-result';
import { parseDomainXml } from '../domain/domain-xml';
import { cloneInputSchema, type CloneInput } from '../domain/schemas/clone-input';
import { validate } from '../domain/schemas/validate';
import { planTransferRanges, targetRangeBytes, type TransferRange } from '../domain/transfer-plan';
import { ErrorCode, KvmCloneError } from '../errors';
import { failureFromInfo, failureInfo, toApplicationFailure } from '../failures';
import { cleanupOptions, hostCallOptions, transferOptions, verifyOptions } from './activity-options';
import { progressQuery, type OperationProgress } from './progress';
import { hostLabel } from './host-label';

const hostCalls = proxyActivities<Activities>(hostCallOptions);
const transfers = proxyActivities<Activities>(transferOptions);
const verification = proxyActivities<Activities>(verifyOptions);
const cleanup = proxyActivities<Activities>(cleanupOptions);

/** Runs `tasks` with at most `limit` at once, failing fast on the first error. */
async function runLimited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, tasks.length) }, async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      await task();
    }
  });
  await Promise.all(lanes);
}

/**
 * Clones a shut-off VM from one host to another: preflight, sparse range copies in
 * parallel, a digest check of every disk on both hosts, then the rewritten domain is
 * defined on the destination. On any failure, cancellation or timeout, whatever this
 * run created on the destination is removed again, in reverse order.
 */
export async function cloneVM(input: CloneInput): Promise<CloneResult> {
  const startedAt = Date.now();
  const progress: OperationProgress = { phase: 'validating', disks: [], bytesTotal: 0, bytesDone: 0 };
  setHandler(progressQuery, () => progress);

  let options;
  try {
    options = validate(cloneInputSchema, input, 'clone input');
  } catch (error) {
    throw toApplicationFailure(error);
  }
  const newName = options.newName ?? `${options.vmName}_clone`;
  const { source, destination } = options;
  const compensations: { what: string; undo: () => Promise<void> }[] = [];
  let timedOut = false;

  const clone = async (): Promise<CloneResult> => {
    progress.phase = 'preflight';
    const inspection = await hostCalls.inspectSource({ source, vmName: options.vmName });
    const domain = parseDomainXml(inspection.inactiveXml);
    const bytesNeeded = inspection.disks.reduce((sum, disk) => sum + disk.allocatedSize, 0);
    const fileNames = inspection.disks.map((disk) => destinationDiskFileName(newName, disk));
    const destinationCheck = await hostCalls.checkDestination({
      destination,
      newName,
      ...(options.destDir ? { destDir: options.destDir } : {}),
      bytesNeeded,
      diskFileNames: fileNames,
    });
    const disks: PlannedDisk[] = inspection.disks.map((disk, index) => ({ ...disk, destinationPath: joinPath(destinationCheck.destDir, fileNames[index]!) }));
    const destinationPaths = disks.map((disk) => disk.destinationPath);

    compensations.push({ what: 'remove copied disks', undo: () => cleanup.removeClone({ destination, paths: destinationPaths }) });
    await hostCalls.prepareDisks({ destination, disks: disks.map((disk) => ({ path: disk.destinationPath, size: disk.fileSize })) });

    progress.phase = 'copying';
    progress.disks = disks.map((disk) => ({ target: disk.target, bytesTotal: disk.dataBytes, bytesDone: 0, phase: 'pending' }));
    progress.bytesTotal = disks.reduce((sum, disk) => sum + disk.dataBytes, 0);
    const rangeBytes = targetRangeBytes(progress.bytesTotal, options.parallel);
    const bytesSent = disks.map(() => 0);
    const rangeTasks = disks.flatMap((disk, diskIndex) =>
      planTransferRanges(disk.dataWindows, disk.fileSize, rangeBytes).map((range: TransferRange) => async () => {
        progress.disks[diskIndex]!.phase = 'copying';
        const result = await transfers.transferRange({ source, destination, sourcePath: disk.sourcePath, destinationPath: disk.destinationPath, range });
        bytesSent[diskIndex]! += result.bytesSent;
        progress.disks[diskIndex]!.bytesDone += result.dataBytes;
        progress.bytesDone += result.dataBytes;
      }),
    );
    await runLimited(rangeTasks, options.parallel);

    const diskResults: DiskCopyResult[] = disks.map((disk, index) => ({
      target: disk.target,
      sourcePath: disk.sourcePath,
      destinationPath: disk.destinationPath,
      format: disk.format,
      fileSize: disk.fileSize,
      bytesTransferred: bytesSent[index]!,
      bytesSkippedAsHoles: disk.fileSize - disk.dataBytes,
    }));
    if (options.verify) {
      progress.phase = 'verifying';
      await runLimited(
        disks.map((disk, index) => async () => {
          progress.disks[index]!.phase = 'verifying';
          const digests = await verification.verifyDisk({ source, destination, sourcePath: disk.sourcePath, destinationPath: disk.destinationPath });
          if (digests.source.hex !== digests.destination.hex) {
            throw new KvmCloneError(
              ErrorCode.TRANSFER_ERROR,
              `copy of disk ${disk.target} differs from its source: sha256 ${digests.source.hex} on the source, ${digests.destination.hex} on the destination`,
            );
          }
          diskResults[index]!.digest = {
            algorithm: digests.source.algorithm,
            source: digests.source.hex,
            destination: digests.destination.hex,
            tools: [digests.source.tool, digests.destination.tool],
          };
          progress.disks[index]!.phase = 'done';
        }),
        options.parallel,
      );
    }

    progress.phase = 'defining';
    const rewrite = {
      newName,
      diskPaths: Object.fromEntries(disks.map((disk) => [disk.target, disk.destinationPath])),
      logDir: destinationCheck.destDir,
      ...(options.preserveMac ? {} : { macAddresses: domain.interfaces.map(() => randomMac(Math.random)) }),
    };
    compensations.push({ what: 'undefine the clone', undo: () => cleanup.removeClone({ destination, vmName: newName, paths: [] }) });
    await hostCalls.defineClone({ destination, sourceXml: inspection.inactiveXml, rewrite, start: options.start });

    progress.phase = 'done';
    const bytesTransferred = bytesSent.reduce((sum, bytes) => sum + bytes, 0);
    return {
      operationId: workflowInfo().workflowId,
      success: true,
      vmName: options.vmName,
      newName,
      sourceHost: hostLabel(source),
      destinationHost: hostLabel(destination),
      durationSeconds: (Date.now() - startedAt) / 1000,
      bytesTransferred,
      bytesSkippedAsHoles: diskResults.reduce((sum, disk) => sum + disk.bytesSkippedAsHoles, 0),
      disks: diskResults,
      consistency: 'offline',
      started: options.start,
      warnings: [],
    };
  };

  try {
    return await CancellationScope.cancellable(async () => {
      const scope = CancellationScope.current();
      sleep(options.timeout * 1000).then(
        () => {
          timedOut = true;
          scope.cancel();
        },
        () => undefined, // the scope ended first
      );
      return await clone();
    });
  } catch (error) {
    progress.phase = 'cleaning-up';
    await CancellationScope.nonCancellable(async () => {
      for (const { what, undo } of compensations.reverse()) {
        try {
          await undo();
        } catch (cleanupError) {
          log.error('cleanup step failed', { step: what, error: String(cleanupError) });
        }
      }
    });
    progress.phase = 'failed';
    if (timedOut) {
      throw ApplicationFailure.create({
        type: 'OPERATION_TIMEOUT',
        message: `clone of '${options.vmName}' did not finish within ${options.timeout} s; the destination was cleaned up`,
        nonRetryable: true,
        details: [{ code: ErrorCode.OPERATION_TIMEOUT }],
      });
    }
    if (isCancellation(error)) throw error;
    throw failureFromInfo(failureInfo(error));
  }
}
