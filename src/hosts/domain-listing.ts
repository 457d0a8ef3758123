import { parseDomainXml } from '../domain/domain-xml';
import { attribute, child, parseDomainDocument, textOf } from '../domain/xml-dom';
import { ErrorCode, KvmCloneError } from '../errors';
import { Libvirt, type DomainState } from './libvirt';
import type { SshSession } from './ssh-session';

/** One VM as `kvm-clone list` shows it. */
export interface DomainListing {
  name: string;
  uuid?: string;
  state: DomainState;
  memoryBytes?: number;
  vcpus?: number;
  disks: { target: string; device: string; source?: string }[];
  /** Network or bridge names the interfaces attach to. */
  networks: string[];
}

export type StateFilter = 'all' | 'running' | 'stopped' | 'paused';

const unitBytes: Record<string, number> = {
  b: 1,
  bytes: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/** `<memory unit='KiB'>1048576</memory>` in bytes; libvirt's default unit is KiB. */
export function memoryBytes(value: string | undefined, unit: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const factor = unitBytes[(unit ?? 'KiB').toLowerCase()];
  const amount = Number(value);
  return factor === undefined || !Number.isFinite(amount) ? undefined : amount * factor;
}

/** The list entry of a domain from its XML: the current memory and vCPUs where set, else the maximum. */
export function domainListing(xml: string, state: DomainState): DomainListing {
  const summary = parseDomainXml(xml);
  const root = parseDomainDocument(xml).documentElement!;
  const memory = child(root, 'currentMemory') ?? child(root, 'memory');
  const vcpu = child(root, 'vcpu');
  const vcpus = Number(attribute(vcpu, 'current') ?? textOf(vcpu));
  const listing: DomainListing = {
    name: summary.name,
    state,
    disks: summary.disks.map((disk) => ({
      target: disk.target,
      device: disk.device,
      ...(disk.sourcePath
        ? { source: disk.sourcePath }
        : disk.pool && disk.volume
          ? { source: `${disk.pool}/${disk.volume}` }
          : {}),
    })),
    networks: summary.interfaces.flatMap((iface) => (iface.source ? [iface.source] : [])),
  };
  if (summary.uuid) listing.uuid = summary.uuid;
  const bytes = memoryBytes(textOf(memory), attribute(memory, 'unit'));
  if (bytes !== undefined) listing.memoryBytes = bytes;
  if (Number.isInteger(vcpus) && vcpus > 0) listing.vcpus = vcpus;
  return listing;
}

export function matchesStateFilter(state: DomainState, filter: StateFilter): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'running':
      return state === 'running' || state === 'idle' || state === 'in shutdown';
    case 'paused':
      return state === 'paused' || state === 'pmsuspended';
    case 'stopped':
      return state === 'shut off' || state === 'crashed';
  }
}

const domainGone = /failed to get domain|Domain not found/i;

/**
 * Every VM the host's libvirt knows, with the live definition of running ones. A VM
 * undefined while the list is being read is left out rather than failing the list.
 */
export async function listDomains(session: SshSession, filter: StateFilter = 'all'): Promise<DomainListing[]> {
  const libvirt = new Libvirt(session);
  const listings: DomainListing[] = [];
  for (const name of await libvirt.listDomainNames()) {
    const state = await libvirt.domainState(name);
    if (state === undefined || !matchesStateFilter(state, filter)) continue;
    try {
      listings.push(domainListing(await libvirt.dumpXml(name, { inactive: false }), state));
    } catch (error) {
      if (error instanceof KvmCloneError && error.code === ErrorCode.LIBVIRT_ERROR && domainGone.test(error.message))
        continue;
      throw error;
    }
  }
  return listings;
}
