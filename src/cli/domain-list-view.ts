import { formatBytes } from '../domain/sizes';
import type { DomainListing } from '../hosts/domain-listing';
import type { ErrorDocument } from './output';
import { table } from './table';

export interface HostDomainListing extends DomainListing {
  host: string;
}

/** What `list` prints with json or yaml output. */
export interface DomainListDocument {
  type: 'list';
  domains: HostDomainListing[];
  /** Hosts that could not be queried; the command then exits non-zero. */
  errors: (ErrorDocument & { host: string })[];
}

export function domainListText(document: DomainListDocument): string {
  if (document.domains.length === 0) return document.errors.length ? '' : 'no VMs\n';
  return table(
    ['HOST', 'NAME', 'STATE', 'UUID', 'MEMORY', 'VCPUS', 'DISKS', 'NETWORKS'],
    document.domains.map((domain) => [
      domain.host,
      domain.name,
      domain.state,
      domain.uuid ?? '-',
      domain.memoryBytes === undefined ? '-' : formatBytes(domain.memoryBytes),
      domain.vcpus === undefined ? '-' : String(domain.vcpus),
      domain.disks.map((disk) => (disk.device === 'disk' ? disk.target : `${disk.target}(${disk.device})`)).join(',') ||
        '-',
      domain.networks.join(',') || '-',
    ]),
  );
}
