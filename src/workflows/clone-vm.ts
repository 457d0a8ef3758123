import { ApplicationFailure, CancelledFailure, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FrozenDisk } from '../hosts/live-snapshot';
import { cloneRewriteFor, destinationFileName } from '../domain/clone-rewrite';
import type { CloneResult, Consistency, FileCopyResult } from '../domain/clone-result';
import { chooseCompression } from '../domain/compression';
import { backingChains, isLiveDisk, operationTag, overlayPathFor, partialPathFor, type FileDataMap, type PlannedFile } from '../domain/copied-file';
import { joinPath, randomMac, uuidFromRandom } from '../domain/clone-plan';
import { domainXmlDiff, parseDomainXml, requiredNetworks, rewriteDomainForClone, unusedNetworkMapEntries } from '../domain/domain-xml';
import { cloneInputSchema, type CloneInput, type CloneOptions } from '../domain/schemas/clone-input';
import { validate } from '../domain/schemas/validate';
import { planTransferRanges, targetRangeBytes, type TransferRange } from '../domain/transfer-plan';
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

function timeoutFailure(options: CloneOptions): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'OPERATION_TIMEOUT',
    message: `clone of '${options.vmName}' did not finish within ${options.timeout} s; the destination was cleaned up and the source left as it was`,
    nonRetryable: true,
    details: [{ code: ErrorCode.OPERATION_TIMEOUT }],
  });
}

/**
 * Clones a VM from one host to another. Preflight checks both hosts before any byte
 * moves; a running source is snapshotted so its disks hold still; data ranges are copied
 * in parallel and verified by digests taken on each host; the rewritten domain is
 * defined on the destination. On failure, cancellation or timeout, every change is
 * undone in reverse: the source is merged back and the destination cleaned up.
 */
export async function cloneVM(input: CloneInput): Promise<CloneResult> {
  return withNotifications(notifyOf(input), notifiedOperation('clone', input, input.newName ?? `${input.vmName}_clone`), () => cloneOperation(input));
}

/** cloneVM without its notifications. */
async function cloneOperation(input: CloneInput): Promise<CloneResult> {
  const startedAt = Date.now();
  const progress: OperationProgress = { phase: 'validating', disks: [], bytesTotal: 0, bytesDone: 0 };
  setHandler(progressQuery, () => progress);

  let options: CloneOptions;
  try {
    options = validate(cloneInputSchema, input, 'clone input');
  } catch (error) {
    throw toApplicationFailure(error);
  }
  const newName = options.newName ?? `${options.vmName}_clone`;
  const { source, destination, vmName } = options;
  const tag = operationTag(workflowInfo().workflowId, workflowInfo().runId);
  const compensations = new Compensations();
  const warnings: string[] = [];
  const timeout: TimeoutState = { timedOut: false };

  const clone = async (): Promise<CloneResult> => {
    progress.phase = 'preflight';
    const inspection = await hostCalls.inspectSource({ source, vmName, copyCdroms: options.copyCdroms, excludeDisks: options.excludeDisks });
    warnings.push(...inspection.warnings);
    const domain = parseDomainXml(inspection.inactiveXml);
    for (const entry of unusedNetworkMapEntries(domain, options.networkMap)) warnings.push(`networkMap entry '${entry}' matches no interface of '${vmName}'`);
    const fileNames = inspection.files.map((file) => destinationFileName(newName, file));
    // TPM state lives in a directory named by the domain's UUID, so the clone's is chosen now.
    const tpmUuid = inspection.files.some((file) => file.role === 'tpm') ? uuidFromRandom(Math.random) : undefined;
    const destinationCheck = await hostCalls.checkDestination({
      destination,
      newName,
      ...(options.destDir ? { destDir: options.destDir } : {}),
      ...(options.destPool ? { destPool: options.destPool } : {}),
      force: options.force,
      bytesNeeded: inspection.files.reduce((sum, file) => sum + file.allocatedSize, 0),
      fileNames: fileNames.filter((_, index) => inspection.files[index]!.role !== 'tpm'),
      ...(tpmUuid ? { tpmUuid } : {}),
      networks: requiredNetworks(domain, options.networkMap),
      referencedFiles: domain.disks
        .filter((disk) => disk.device === 'cdrom' && disk.sourcePath && !options.excludeDisks.includes(disk.target) && !inspection.files.some((file) => file.target === disk.target))
        .map((disk) => disk.sourcePath!),
      machine: {
        domainType: domain.domainType,
        ...(domain.emulator ? { emulator: domain.emulator } : {}),
        ...(domain.machine ? { machine: domain.machine } : {}),
        ...(domain.arch ? { arch: domain.arch } : {}),
      },
    });
    warnings.push(...destinationCheck.warnings);
    const files: PlannedFile[] = inspection.files.map((file, index) => {
      const destinationPath = file.role === 'tpm' ? joinPath(destinationCheck.tpmDir!, file.target) : joinPath(destinationCheck.destDir, fileNames[index]!);
      return { ...file, destinationPath, partialPath: partialPathFor(destinationPath, tag) };
    });
    // The relay is where the bandwidth limit is enforced; a direct push cannot be paced.
    const direct = options.bandwidthLimit === undefined ? options.direct : undefined;
    if (options.direct && !direct) warnings.push('bandwidthLimit is enforced by the relay, so this operation relays instead of pushing directly');
    const compression = chooseCompression(options.compress, inspection.compressors, destinationCheck.compressors);
    if (compression.warning) warnings.push(compression.warning);
    const live = inspection.state !== 'shut off';
    const rewrite = cloneRewriteFor({
      ...(tpmUuid ? { uuid: tpmUuid } : {}),
      newName,
      files,
      logDir: destinationCheck.destDir,
      networkMap: options.networkMap,
      excludeDisks: options.excludeDisks,
      ...(destinationCheck.pool ? { destPool: destinationCheck.pool } : {}),
      ...(options.preserveMac ? {} : { macAddresses: domain.interfaces.map(() => randomMac(Math.random)) }),
    });

    if (options.dryRun) {
      const maps = await hostCalls.mapFiles({ source, files });
      return result({
        files: [],
        consistency: live ? (inspection.guestAgent ? 'quiesced' : 'crash-consistent') : 'offline',
        compression: compression.codec,
        transport: direct ? 'direct' : 'relay',
        plan: {
          files: files.map((file, index) => ({
            role: file.role,
            target: file.target,
            format: file.format,
            virtualSize: file.virtualSize,
            allocatedSize: file.allocatedSize,
            dataBytes: maps[index]!.dataBytes,
            sourcePath: file.sourcePath,
            destinationPath: file.destinationPath,
          })),
          bytesToTransfer: maps.reduce((sum, map) => sum + map.dataBytes, 0),
          destinationDir: destinationCheck.destDir,
          destinationFreeBytes: destinationCheck.freeBytes,
          consistency: live ? (inspection.guestAgent ? 'quiesced' : 'crash-consistent') : 'offline',
          compression: compression.codec,
          ...(destinationCheck.replaced ? { replaces: destinationCheck.replaced.vmName } : {}),
          xmlDiff: domainXmlDiff(inspection.inactiveXml, rewriteDomainForClone(inspection.inactiveXml, rewrite)),
        },
      });
    }

    const partialPaths = files.map((file) => file.partialPath);
    const createdDirectories = destinationCheck.tpmDir ? [destinationCheck.tpmDir] : [];
    compensations.add('remove partial copies', () => cleanup.removeClone({ destination, paths: partialPaths, directories: createdDirectories }));
    await hostCalls.prepareDisks({ destination, disks: files.map((file) => ({ path: file.partialPath, size: file.fileSize })) });

    let consistency: Consistency = 'offline';
    const frozenDisks: FrozenDisk[] = files.filter(isLiveDisk).map((file) => ({ target: file.target, basePath: file.sourcePath, overlayPath: overlayPathFor(file.sourcePath, tag) }));
    const mergeBack = () => cleanup.mergeSource({ source, vmName, disks: frozenDisks, originalXml: inspection.inactiveXml }).then(() => undefined);
    let dropMergeCompensation = () => {};
    if (live) {
      progress.phase = 'snapshotting';
      dropMergeCompensation = compensations.add('merge the source back', mergeBack);
      const frozen = await hostCalls.freezeSource({ source, vmName, disks: frozenDisks, quiesce: inspection.guestAgent });
      consistency = frozen.consistency;
      warnings.push(...frozen.warnings);
    }

    progress.phase = 'copying';
    const maps: FileDataMap[] = await hostCalls.mapFiles({ source, files });
    progress.disks = files.map((file, index) => ({
      target: file.role === 'disk' ? file.target : `${file.target}:${file.role}${file.depth || ''}`,
      bytesTotal: maps[index]!.dataBytes,
      bytesDone: 0,
      phase: 'pending',
    }));
    progress.bytesTotal = maps.reduce((sum, map) => sum + map.dataBytes, 0);
    const rangeBytes = targetRangeBytes(progress.bytesTotal, options.parallel);
    const bytesPerSecond = options.bandwidthLimit === undefined ? undefined : Math.max(1, Math.floor(options.bandwidthLimit / options.parallel));
    const bytesSent = files.map(() => 0);
    let bytesResumed = 0;
    let rangesRecopied = 0;

    const copyRange = async (file: PlannedFile, index: number, range: TransferRange): Promise<void> => {
      const transfer = () =>
        transfers.transferRange({
          source,
          destination,
          sourcePath: file.sourcePath,
          destinationPath: file.partialPath,
          range,
          compression: compression.codec,
          label: progress.disks[index]!.target,
          ...(bytesPerSecond ? { bytesPerSecond } : {}),
          ...(direct ? { direct } : {}),
        });
      const copied = await transfer();
      bytesSent[index]! += copied.bytesSent;
      bytesResumed += copied.bytesResumed;
      if (options.verify) {
        const rangeCheck = () => verification.verifyRange({ source, destination, sourcePath: file.sourcePath, destinationPath: file.partialPath, range });
        let digests = await rangeCheck();
        if (digests.source.hex !== digests.destination.hex) {
          rangesRecopied++;
          warnings.push(`range ${range.start}+${range.length} of ${file.sourcePath} differed after the copy and was copied again`);
          bytesSent[index]! += (await transfer()).bytesSent;
          digests = await rangeCheck();
          if (digests.source.hex !== digests.destination.hex) {
            throw new KvmCloneError(
              ErrorCode.TRANSFER_ERROR,
              `range ${range.start}+${range.length} of ${file.sourcePath} still differs after copying it again: sha256 ${digests.source.hex} on the source, ${digests.destination.hex} on the destination`,
            );
          }
        }
      }
      progress.disks[index]!.bytesDone += copied.dataBytes;
      progress.bytesDone += copied.dataBytes;
    };
    await runLimited(
      files.flatMap((file, index) =>
        planTransferRanges(maps[index]!.dataWindows, file.fileSize, rangeBytes).map((range) => async () => {
          progress.disks[index]!.phase = 'copying';
          await copyRange(file, index, range);
        }),
      ),
      options.parallel,
    );

    const fileResults: FileCopyResult[] = files.map((file, index) => ({
      role: file.role,
      target: file.target,
      sourcePath: file.sourcePath,
      destinationPath: file.destinationPath,
      format: file.format,
      fileSize: file.fileSize,
      bytesTransferred: bytesSent[index]!,
      bytesSkippedAsHoles: file.fileSize - maps[index]!.dataBytes,
    }));
    if (options.verify) {
      progress.phase = 'verifying';
      await runLimited(
        files.map((file, index) => async () => {
          progress.disks[index]!.phase = 'verifying';
          const digests = await verification.verifyFile({ source, destination, sourcePath: file.sourcePath, destinationPath: file.partialPath });
          if (digests.source.hex !== digests.destination.hex) {
            throw new KvmCloneError(
              ErrorCode.TRANSFER_ERROR,
              `copy of ${file.sourcePath} differs from its source: sha256 ${digests.source.hex} on the source, ${digests.destination.hex} on the destination`,
            );
          }
          fileResults[index]!.digest = {
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

    if (live) {
      progress.phase = 'merging';
      await mergeBack();
      dropMergeCompensation();
    }

    progress.phase = 'defining';
    const replaced = destinationCheck.replaced;
    if (replaced) {
      // The old VM goes only now, with a verified copy ready to take its place.
      await hostCalls.removeClone({ destination, vmName: replaced.vmName, paths: replaced.paths });
    }
    const finalPaths = files.map((file) => file.destinationPath);
    compensations.add('remove copied files', () => cleanup.removeClone({ destination, paths: finalPaths }));
    await hostCalls.finalizeFiles({
      destination,
      renames: files.map((file) => ({ from: file.partialPath, to: file.destinationPath })),
      chains: backingChains(files),
      flatten: options.flattenBackingChain,
      ...(destinationCheck.pool ? { pool: destinationCheck.pool } : {}),
    });
    compensations.add('undefine the clone', () => cleanup.removeClone({ destination, vmName: newName, paths: [] }));
    await hostCalls.defineClone({ destination, sourceXml: inspection.inactiveXml, rewrite, start: options.start });

    progress.phase = 'done';
    return result({
      files: fileResults,
      consistency,
      compression: compression.codec,
      transport: direct ? 'direct' : 'relay',
      bytesResumed,
      rangesRecopied,
      ...(replaced ? { replaced: replaced.vmName } : {}),
    });
  };

  const result = (
    outcome: Pick<CloneResult, 'files' | 'consistency' | 'compression' | 'transport'> & Partial<Pick<CloneResult, 'bytesResumed' | 'rangesRecopied' | 'replaced' | 'plan'>>,
  ): CloneResult => ({
    operationId: workflowInfo().workflowId,
    success: true,
    dryRun: options.dryRun,
    vmName,
    newName,
    sourceHost: hostLabel(source),
    destinationHost: hostLabel(destination),
    durationSeconds: (Date.now() - startedAt) / 1000,
    bytesTransferred: outcome.files.reduce((sum, file) => sum + file.bytesTransferred, 0),
    bytesSkippedAsHoles: outcome.files.reduce((sum, file) => sum + file.bytesSkippedAsHoles, 0),
    bytesResumed: outcome.bytesResumed ?? 0,
    rangesRecopied: outcome.rangesRecopied ?? 0,
    files: outcome.files,
    consistency: outcome.consistency,
    compression: outcome.compression,
    transport: outcome.transport,
    ...(outcome.replaced ? { replaced: outcome.replaced } : {}),
    ...(outcome.plan ? { plan: outcome.plan } : {}),
    started: options.start && !options.dryRun,
    warnings,
  });

  try {
    return await withTimeout(options.timeout, timeout, clone);
  } catch (error) {
    progress.phase = 'cleaning-up';
    await compensations.unwind();
    progress.phase = 'failed';
    if (timeout.timedOut) throw timeoutFailure(options);
    // A cancelled activity surfaces as an ActivityFailure; the workflow itself ends cancelled.
    if (isCancellation(error)) throw new CancelledFailure(`clone of '${vmName}' was cancelled; the destination was cleaned up and the source left as it was`);
    throw failureFromInfo(failureInfo(error));
  }
}
