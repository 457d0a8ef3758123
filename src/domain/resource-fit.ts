import type { DomainResources } from './domain-resources';
import type { NodeCapacity } from './node-capacity';
import { formatBytes } from './sizes';

export type ResourceKind = 'memory' | 'vcpus';

/** A resource the domain asks more of than the host has. */
export interface ResourceShortfall {
  resource: ResourceKind;
  /** What the domain asks for: bytes of memory, or vCPUs. */
  wanted: number;
  /** What the host has: available bytes of memory, or CPUs. */
  available: number;
}

export interface ResourceFit {
  shortfalls: ResourceShortfall[];
  /** Resources the domain asks for that the host did not report, so nothing could be compared. */
  unchecked: ResourceKind[];
}

/**
 * Whether a host can run a domain: more vCPUs than the host has CPUs, or more memory than it has available, is a
 * shortfall. A resource the XML does not state is not compared; one the host did not report is unchecked.
 */
export function resourceFit(wanted: DomainResources, capacity: NodeCapacity): ResourceFit {
  const fit: ResourceFit = { shortfalls: [], unchecked: [] };
  const compare = (resource: ResourceKind, asked: number | undefined, has: number | undefined): void => {
    if (asked === undefined) return;
    if (has === undefined) fit.unchecked.push(resource);
    else if (asked > has) fit.shortfalls.push({ resource, wanted: asked, available: has });
  };
  compare('memory', wanted.memoryBytes, capacity.availableMemoryBytes);
  compare('vcpus', wanted.vcpus, capacity.cpus);
  return fit;
}

/** One shortfall for a message: `it asks for 64.0 TiB of memory and the host has 20.1 GiB available`. */
export function describeShortfall(shortfall: ResourceShortfall): string {
  if (shortfall.resource === 'memory') {
    return `it asks for ${formatBytes(shortfall.wanted)} of memory and the host has ${formatBytes(shortfall.available)} available`;
  }
  const cpus = shortfall.available === 1 ? 'CPU' : 'CPUs';
  return `it asks for ${shortfall.wanted} vCPUs and the host has ${shortfall.available} ${cpus}`;
}

/** What the preflight makes of a fit: a refusal when the clone is to start, else warnings. */
export interface FitOutcome {
  /** Why the clone cannot start there (1005); only for a clone that is to start. */
  refusal?: string;
  warnings: string[];
}

const RESOURCE_NAMES: Record<ResourceKind, { host: string; domain: string }> = {
  memory: { host: 'memory', domain: 'memory was' },
  vcpus: { host: 'CPUs', domain: 'vCPUs were' },
};

/**
 * A clone that is to start is refused when the host is short of anything: it would be defined, then fail to start,
 * after the whole copy. One that is only defined may still be started once the host has room: it gets warnings. A
 * resource the host did not report is a warning either way.
 */
export function fitOutcome(fit: ResourceFit, context: { start: boolean; where: string; newName: string }): FitOutcome {
  const { start, where, newName } = context;
  const shortfalls = fit.shortfalls.map(describeShortfall);
  const unchecked = fit.unchecked.map(
    (resource) =>
      `${where} did not report its ${RESOURCE_NAMES[resource].host}, so the VM's ${RESOURCE_NAMES[resource].domain} not compared with it`,
  );
  if (start && shortfalls.length > 0) {
    return {
      refusal: `'${newName}' cannot start on ${where}: ${shortfalls.join('; ')}; clone without start, or free memory or CPUs there first`,
      warnings: unchecked,
    };
  }
  return {
    warnings: [
      ...shortfalls.map(
        (text) => `'${newName}' may not start on ${where}: ${text} (the clone is defined, not started)`,
      ),
      ...unchecked,
    ],
  };
}
