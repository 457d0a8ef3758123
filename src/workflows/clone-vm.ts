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
import { cloneRewriteFor, destinationFileName } from '../domain/clone-rewrite';
import type { CloneResult, Consistency, FileCopyResult } from '../domain/clone-result';
import { chooseCompression } from '../domain/compression';
import {
  backingChains,
  isLiveDisk,
  operationTag,
  overlayPathFor,
  partialPathFor,
  type FileDataMap,
  type PlannedFile,
} from '../domain/copied-file';
import { randomMac, uuidFromRandom } from '../domain/clone-plan';
import { joinPath } from '../domain/paths';
import {
  domainXmlDiff,
  parseDomainXml,
  requiredNetworks,
  rewriteDomainForClone,
  unusedNetworkMapEntries,
} from '../domain/domain-xml';
import { cloneInputSchema, type CloneInput, type CloneOptions } from '../domain/schemas/clone-input';
import { validate } from '../domain/schemas/validate';
import { planTransferRanges, targetRangeBytes, type TransferRange } from '../domain/transfer-plan';
import { planReplacement } from '../domain/replacement';
import { ErrorCode, errorCodeName, KvmCloneError } from '../errors';
import { failureFromInfo, failureInfo, toApplicationFailure, type FailureInfo } from '../failures';
import {
  cleanupOptions,
  finalizeOptions,
  hostCallOptions,
  mergeBackOptions,
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
const finalizing = proxyActivities<Activities>(finalizeOptions);

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
 * undone in reverse: the source is merged back and the destination cleaned up; an undo
 * that fails makes the failure say what it left (1200, see cleanup-report.ts).
 *
 * The operation holds a lock on its new name on the destination from preflight to the
 * end, so two clones to one name never interleave, whatever their workflow ids. It
 * chooses its clone's UUID, and defineClone adopts no domain with another one. With force,
 * the old VM is set aside (stopped, saved, its colliding files moved, undefined) only
 * once the copy is verified, brought back if anything fails before the clone is defined,
 * and its files removed only after.
 */
export async function cloneVM(input: CloneInput): Promise<CloneResult> {
  return withNotifications(
    notifyOf(input),
    notifiedOperation('clone', input, input.newName ?? `${input.vmName}_clone`),
    () => cloneOperation(input),
  );
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
  // Runs started before the destination lock, the chosen UUID and force's new order keep their old commands.
  const ownsDestination = patched('destination-lock');
  const lockHeld = ownsDestination && !options.dryRun;

  /** Releases the lock at the end of a clone that worked; a failed release is a warning, the clone stands. */
  const releaseLock = async (): Promise<void> => {
    try {
      // The clone is done: a cancellation or timeout arriving now must not leave the lock behind.
      await CancellationScope.nonCancellable(() => cleanup.releaseDestinationLock({ destination, name: newName }));
    } catch (error) {
      warnings.push(`the lock on '${newName}' could not be released: ${failureInfo(error).message}`);
    }
  };

  const clone = async (): Promise<CloneResult> => {
    progress.phase = 'preflight';
    if (lockHeld) {
      await hostCalls.acquireDestinationLock({ destination, name: newName });
      // Registered once held (so unwound last): a lock never acquired, on a host never reached, needs no release.
      compensations.add(
        'release the destination lock',
        () => cleanup.releaseDestinationLock({ destination, name: newName }),
        `'${newName}' stays locked on ${hostLabel(destination)}`,
      );
    }
    const inspection = await hostCalls.inspectSource({
      source,
      destination,
      vmName,
      copyCdroms: options.copyCdroms,
      excludeDisks: options.excludeDisks,
    });
    warnings.push(...inspection.warnings);
    const domain = parseDomainXml(inspection.inactiveXml);
    for (const entry of unusedNetworkMapEntries(domain, options.networkMap))
      warnings.push(`networkMap entry '${entry}' matches no interface of '${vmName}'`);
    const fileNames = inspection.files.map((file) => destinationFileName(newName, file));
    // The clone's UUID is chosen now: defineClone adopts an existing domain only when it carries this UUID, and TPM state lives in a directory named by it.
    const hasTpm = inspection.files.some((file) => file.role === 'tpm');
    const cloneUuid = ownsDestination || hasTpm ? uuidFromRandom(Math.random) : undefined;
    const tpmUuid = hasTpm ? cloneUuid : undefined;
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
        .filter(
          (disk) =>
            disk.device === 'cdrom' &&
            disk.sourcePath &&
            !options.excludeDisks.includes(disk.target) &&
            !inspection.files.some((file) => file.target === disk.target),
        )
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
      const destinationPath =
        file.role === 'tpm'
          ? joinPath(destinationCheck.tpmDir!, file.target)
          : joinPath(destinationCheck.destDir, fileNames[index]!);
      return { ...file, destinationPath, partialPath: partialPathFor(destinationPath, tag) };
    });
    // The relay is where the bandwidth limit is enforced; a direct push cannot be paced.
    const direct = options.bandwidthLimit === undefined ? options.direct : undefined;
    if (options.direct && !direct)
      warnings.push('bandwidthLimit is enforced by the relay, so this operation relays instead of pushing directly');
    const compression = chooseCompression(options.compress, inspection.compressors, destinationCheck.compressors);
    if (compression.warning) warnings.push(compression.warning);
    const live = inspection.state !== 'shut off';
    const rewrite = cloneRewriteFor({
      ...(cloneUuid ? { uuid: cloneUuid } : {}),
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
    compensations.add(
      'remove partial copies',
      () => cleanup.removeClone({ destination, paths: partialPaths, directories: createdDirectories }),
      `partial copies may remain on ${hostLabel(destination)}: ${[...partialPaths, ...createdDirectories].join(', ')}`,
    );
    await hostCalls.prepareDisks({
      destination,
      disks: files.map((file) => ({ path: file.partialPath, size: file.fileSize })),
    });

    let consistency: Consistency = 'offline';
    const frozenDisks: FrozenDisk[] = files.filter(isLiveDisk).map((file) => ({
      target: file.target,
      basePath: file.sourcePath,
      overlayPath: overlayPathFor(file.sourcePath, tag),
    }));
    const mergeBack = () =>
      mergeBacks
        .mergeSource({ source, vmName, disks: frozenDisks, originalXml: inspection.inactiveXml })
        .then(() => undefined);
    let dropMergeCompensation = () => {};
    if (live) {
      progress.phase = 'snapshotting';
      dropMergeCompensation = compensations.add(
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
    const bytesPerSecond =
      options.bandwidthLimit === undefined
        ? undefined
        : Math.max(1, Math.floor(options.bandwidthLimit / options.parallel));
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
        const rangeCheck = () =>
          verification.verifyRange({
            source,
            destination,
            sourcePath: file.sourcePath,
            destinationPath: file.partialPath,
            range,
          });
        let digests = await rangeCheck();
        if (digests.source.hex !== digests.destination.hex) {
          rangesRecopied++;
          warnings.push(
            `range ${range.start}+${range.length} of ${file.sourcePath} differed after the copy and was copied again`,
          );
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
          const digests = await verification.verifyFile({
            source,
            destination,
            sourcePath: file.sourcePath,
            destinationPath: file.partialPath,
          });
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
    const finalPaths = files.map((file) => file.destinationPath);
    const replacement = replaced && ownsDestination ? planReplacement(replaced.paths, finalPaths, tag) : undefined;
    if (replaced && replacement) {
      // The old VM steps aside, restorable, with a verified copy ready to take its place; it goes for good only once the clone is defined.
      const aside = { destination, vmName: replaced.vmName, moves: replacement.moves };
      compensations.add(
        'restore the replaced VM',
        () => cleanup.restoreDomain(aside),
        `the replaced VM '${replaced.vmName}' may be left undefined on ${hostLabel(destination)}: its definition is kept in the destination lock (replaced.xml)${
          replacement.moves.length > 0
            ? ` and its files set aside as ${replacement.moves.map((move) => move.to).join(', ')}`
            : ''
        }`,
      );
      await hostCalls.setAsideDomain(aside);
    } else if (replaced) {
      // Runs started before the set-aside: the old VM goes now, as it always did.
      await hostCalls.removeClone({ destination, vmName: replaced.vmName, paths: replaced.paths });
    }
    const renames = files.map((file) => ({ from: file.partialPath, to: file.destinationPath }));
    compensations.add(
      'remove copied files',
      // Only files this clone's renames made: a rename refused because a file was in the way must not make the cleanup remove that file.
      () =>
        ownsDestination
          ? cleanup.removeRenamedFiles({ destination, renames })
          : cleanup.removeClone({ destination, paths: finalPaths }),
      `copied files may remain on ${hostLabel(destination)}: ${finalPaths.join(', ')}`,
    );
    await finalizing.finalizeFiles({
      destination,
      renames,
      chains: backingChains(files),
      flatten: options.flattenBackingChain,
      ...(destinationCheck.pool ? { pool: destinationCheck.pool } : {}),
    });
    compensations.add(
      'undefine the clone',
      // Only the domain this clone defined: a define refused because another VM has the name must not remove that VM.
      () =>
        ownsDestination && cloneUuid
          ? cleanup.removeDefinedClone({ destination, vmName: newName, uuid: cloneUuid })
          : cleanup.removeClone({ destination, vmName: newName, paths: [] }),
      `'${newName}' may still be defined on ${hostLabel(destination)}`,
    );
    await hostCalls.defineClone({
      destination,
      sourceXml: inspection.inactiveXml,
      rewrite,
      start: options.start,
      // Read on the worker at the define, so no password passes through history.
      graphicsPasswordsFrom: { source, vmName },
      // The clone's record: the files a later sync may write into (TPM state is vouched for by its directory; flattened layers are gone).
      operationId: workflowInfo().workflowId,
      createdFiles: files
        .filter((file) => file.role !== 'tpm' && !(options.flattenBackingChain && file.role === 'backing'))
        .map((file) => file.destinationPath),
    });

    if (replaced && replacement) {
      // The clone is defined, so the old VM is not coming back: its files go, whatever happens to the workflow now.
      await CancellationScope.nonCancellable(async () => {
        try {
          await cleanup.removeClone({ destination, paths: replacement.removeAfterDefine });
        } catch (error) {
          warnings.push(
            `the files of the replaced VM '${replaced.vmName}' could not all be removed (${failureInfo(error).message}): ${replacement.removeAfterDefine.join(', ')}`,
          );
        }
        try {
          await cleanup.discardReplacedDomain({ destination, vmName: replaced.vmName });
        } catch (error) {
          warnings.push(
            `the TPM state or saved definition of the replaced VM '${replaced.vmName}' could not be removed: ${failureInfo(error).message}`,
          );
        }
      });
    }
    if (lockHeld) await releaseLock();

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
    outcome: Pick<CloneResult, 'files' | 'consistency' | 'compression' | 'transport'> &
      Partial<Pick<CloneResult, 'bytesResumed' | 'rangesRecopied' | 'replaced' | 'plan'>>,
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
    const cleanupFailures = await compensations.unwind();
    progress.phase = 'failed';
    if (cleanupFailures.length > 0) {
      // Whatever ended the clone, what cleanup left is the news: 1200, with the first cause in the details.
      const cause: FailureInfo = timeout.timedOut
        ? {
            code: ErrorCode.OPERATION_TIMEOUT,
            codeName: errorCodeName(ErrorCode.OPERATION_TIMEOUT),
            message: `clone of '${vmName}' did not finish within ${options.timeout} s`,
          }
        : isCancellation(error)
          ? {
              code: ErrorCode.OPERATION_CANCELLED_ERROR,
              codeName: errorCodeName(ErrorCode.OPERATION_CANCELLED_ERROR),
              message: `clone of '${vmName}' was cancelled`,
            }
          : failureInfo(error);
      throw operationFailure('clone', cause, cleanupFailures);
    }
    if (timeout.timedOut) throw timeoutFailure(options);
    // A cancelled activity surfaces as an ActivityFailure; the workflow itself ends cancelled.
    if (isCancellation(error))
      throw new CancelledFailure(
        `clone of '${vmName}' was cancelled; the destination was cleaned up and the source left as it was`,
      );
    throw failureFromInfo(failureInfo(error));
  }
}
