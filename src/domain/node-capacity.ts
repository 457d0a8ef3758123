import { libvirtUnitFactor } from './domain-resources';

/** What a host offers the domains it runs, as its libvirt reports it. Whatever could not be read is absent. */
export interface NodeCapacity {
  /** Online host CPUs (`virsh nodeinfo`'s `CPU(s)`). */
  cpus?: number;
  /**
   * The host's RAM in bytes: the kernel's total (`virsh nodememstats`), else `virsh nodeinfo`'s `Memory size`, which
   * sums the NUMA cells and misses memory that is online but in none of them (hot-added memory, on some VMs).
   */
  totalMemoryBytes?: number;
  /**
   * Memory a new guest can have without pushing others out, in bytes: free plus buffers and page cache
   * (`virsh nodememstats`), which the kernel gives back under pressure.
   */
  availableMemoryBytes?: number;
}

/** `Label:  value` lines, keyed by the label in lower case; lines of any other shape are ignored. */
function labelledLines(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([^:]+?)\s*:\s*(.*?)\s*$/.exec(line);
    if (match) fields.set(match[1]!.toLowerCase(), match[2]!);
  }
  return fields;
}

/** `24683652 KiB` (or a bare count of KiB, as libvirt reports memory) in bytes. */
function memoryValue(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /^(\d{1,20})(?:\s*([A-Za-z]+))?$/.exec(text);
  if (!match) return undefined;
  const factor = libvirtUnitFactor(match[2]);
  return factor === undefined ? undefined : Number(match[1]) * factor;
}

function countValue(text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

/** The CPU count and memory size from `virsh nodeinfo` output; unreadable fields are left out. */
export function parseNodeInfo(text: string): Pick<NodeCapacity, 'cpus' | 'totalMemoryBytes'> {
  const fields = labelledLines(text);
  const cpus = countValue(fields.get('cpu(s)'));
  const totalMemoryBytes = memoryValue(fields.get('memory size'));
  return {
    ...(cpus !== undefined && cpus > 0 ? { cpus } : {}),
    ...(totalMemoryBytes !== undefined ? { totalMemoryBytes } : {}),
  };
}

/**
 * From `virsh nodememstats` output: the kernel's total memory, and the memory a new guest can have (free + buffers +
 * cached, when free is there). Unreadable fields are left out.
 */
export function parseNodeMemStats(text: string): Pick<NodeCapacity, 'totalMemoryBytes' | 'availableMemoryBytes'> {
  const fields = labelledLines(text);
  const total = memoryValue(fields.get('total'));
  const free = memoryValue(fields.get('free'));
  const reclaimable = ['buffers', 'cached'].map((name) => memoryValue(fields.get(name)) ?? 0);
  return {
    ...(total !== undefined && total > 0 ? { totalMemoryBytes: total } : {}),
    ...(free !== undefined ? { availableMemoryBytes: reclaimable.reduce((sum, each) => sum + each, free) } : {}),
  };
}
