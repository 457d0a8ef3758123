import type { CheckDestinationInput, DestinationCheck } from '../activities/check-destination';
import type { SourceInspection } from '../activities/inspect-source';
import { randomMac, uuidFromRandom } from '../domain/clone-plan';
import type { ClonePlan, Consistency } from '../domain/clone-result';
import { cloneRewriteFor, destinationFileName } from '../domain/clone-rewrite';
import { partialPathFor, type PlannedFile } from '../domain/copied-file';
import { domainResources } from '../domain/domain-resources';
import {
  domainXmlDiff,
  parseDomainXml,
  requiredNetworks,
  rewriteDomainForClone,
  unusedNetworkMapEntries,
  type CloneRewrite,
  type DomainSummary,
} from '../domain/domain-xml';
import { joinPath } from '../domain/paths';
import type { CloneOptions } from '../domain/schemas/clone-input';
import { preflightCalls, verification } from './activity-proxies';
import { chooseDataPath, type DataPath } from './data-path';
import type { Operation } from './operation';

/** What the preflight found out and decided: everything the clone needs before it changes a host. */
export interface CloneSetup {
  newName: string;
  inspection: SourceInspection;
  destinationCheck: DestinationCheck;
  files: PlannedFile[];
  /** The clone's UUID, chosen by the workflow (absent only for runs from before the destination lock without TPM). */
  cloneUuid?: string;
  dataPath: DataPath;
  rewrite: CloneRewrite;
}

/** What cloneSetup reads of its operation: a migration's live mode plans with clone options of its own. */
export type CloneSetupContext = Pick<Operation<CloneOptions>, 'options' | 'warnings' | 'tag'>;

/**
 * Inspects the source and checks the destination, before any byte moves: where each file
 * goes (under a partial name until it is verified), the clone's identity, and how the data
 * travels. What the hosts or the options cannot have is a warning.
 */
export async function cloneSetup(
  operation: CloneSetupContext,
  newName: string,
  ownsDestination: boolean,
): Promise<CloneSetup> {
  const { options, warnings, tag } = operation;
  const { source, destination, vmName, copyCdroms, excludeDisks } = options;
  const inspection = await preflightCalls.inspectSource({ source, destination, vmName, copyCdroms, excludeDisks });
  warnings.push(...inspection.warnings);
  const domain = parseDomainXml(inspection.inactiveXml);
  for (const entry of unusedNetworkMapEntries(domain, options.networkMap))
    warnings.push(`networkMap entry '${entry}' matches no interface of '${vmName}'`);
  const fileNames = inspection.files.map((file) => destinationFileName(newName, file));
  // The clone's UUID is chosen now: defineClone adopts an existing domain only when it carries this UUID, and TPM state lives in a directory named by it.
  const hasTpm = inspection.files.some((file) => file.role === 'tpm');
  const cloneUuid =
    options.keepUuid && domain.uuid
      ? domain.uuid.toLowerCase()
      : ownsDestination || hasTpm
        ? uuidFromRandom(Math.random)
        : undefined;
  const destinationCheck = await preflightCalls.checkDestination(
    destinationCheckRequest(options, newName, inspection, domain, fileNames, hasTpm ? cloneUuid : undefined),
  );
  warnings.push(...destinationCheck.warnings);
  const files: PlannedFile[] = inspection.files.map((file, index) => {
    const destinationPath =
      file.role === 'tpm'
        ? joinPath(destinationCheck.tpmDir!, file.target)
        : joinPath(destinationCheck.destDir, fileNames[index]!);
    return { ...file, destinationPath, partialPath: partialPathFor(destinationPath, tag) };
  });
  const dataPath = chooseDataPath(options, inspection.compressors, destinationCheck.compressors, warnings);
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
  return { newName, inspection, destinationCheck, files, ...(cloneUuid ? { cloneUuid } : {}), dataPath, rewrite };
}

/** What the destination is asked to have room, names, networks, a machine, memory and CPUs for. */
function destinationCheckRequest(
  options: CloneOptions,
  newName: string,
  inspection: SourceInspection,
  domain: DomainSummary,
  fileNames: string[],
  tpmUuid: string | undefined,
): CheckDestinationInput {
  return {
    destination: options.destination,
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
    resources: domainResources(inspection.inactiveXml),
    start: options.start,
    machine: {
      domainType: domain.domainType,
      ...(domain.emulator ? { emulator: domain.emulator } : {}),
      ...(domain.machine ? { machine: domain.machine } : {}),
      ...(domain.arch ? { arch: domain.arch } : {}),
    },
  };
}

/** How a source in this state holds still while it is read. */
export function expectedConsistency(inspection: SourceInspection): Consistency {
  if (inspection.state === 'shut off') return 'offline';
  return inspection.guestAgent ? 'quiesced' : 'crash-consistent';
}

/** What a dry run reports: the clone it would make, with the data each file holds now. */
export async function dryRunPlan(operation: Operation<CloneOptions>, setup: CloneSetup): Promise<ClonePlan> {
  const { inspection, destinationCheck, files } = setup;
  const maps = await verification.mapFiles({ source: operation.options.source, files });
  return {
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
    consistency: expectedConsistency(inspection),
    compression: setup.dataPath.compression,
    ...(destinationCheck.replaced ? { replaces: destinationCheck.replaced.vmName } : {}),
    xmlDiff: domainXmlDiff(inspection.inactiveXml, rewriteDomainForClone(inspection.inactiveXml, setup.rewrite)),
  };
}
