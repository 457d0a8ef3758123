import type { Element } from '@xmldom/xmldom';
import { attribute, child, parseDomainDocument, textOf } from './xml-dom';

/** What a domain asks of the host that runs it, as its XML declares it. */
export interface DomainResources {
  /**
   * The guest's RAM in bytes: `<memory>`, which qemu maps when the domain starts. `<currentMemory>` is not used: the
   * balloon hands memory back only once the guest runs, and the guest may take it back. Absent when the XML gives
   * no value kvm-clone can read.
   */
  memoryBytes?: number;
  /** vCPUs online at boot: `<vcpu current>` when present, else `<vcpu>`'s count. */
  vcpus?: number;
}

/** libvirt's scale prefixes (`virScaleInteger`): the power of the base each multiplies by. */
const PREFIX_POWERS: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/**
 * Bytes per unit of a libvirt memory `unit` attribute, or undefined for one libvirt would reject. As in libvirt:
 * case-insensitive, `b`/`bytes` are bytes, a bare prefix (`k`, `M`) and `KiB`-style are powers of 1024, `KB`-style
 * powers of 1000, and no unit means KiB.
 */
export function libvirtUnitFactor(unit: string | undefined): number | undefined {
  if (unit === undefined) return 1024;
  const lower = unit.toLowerCase();
  if (lower === 'b' || lower === 'byte' || lower === 'bytes') return 1;
  const power = PREFIX_POWERS[lower.charAt(0)];
  if (power === undefined) return undefined;
  const suffix = lower.slice(1);
  if (suffix === '' || suffix === 'ib') return 1024 ** power;
  if (suffix === 'b') return 1000 ** power;
  return undefined;
}

/** A whole number as libvirt writes counts: decimal digits only (the XML is untrusted, so nothing else passes). */
function count(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,20}$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** A `<memory>`-style element in bytes; a value past 2^53 stays a (rounded) number, which compares as huge. */
function memoryElementBytes(element: Element | undefined): number | undefined {
  const amount = count(textOf(element));
  const factor = libvirtUnitFactor(attribute(element, 'unit'));
  return amount === undefined || factor === undefined ? undefined : amount * factor;
}

/** The memory and vCPUs a domain document asks for; a value that cannot be read is left out. */
export function domainResources(xml: string): DomainResources {
  const root = parseDomainDocument(xml).documentElement!;
  const memoryBytes = memoryElementBytes(child(root, 'memory'));
  const vcpu = child(root, 'vcpu');
  const vcpus = count(attribute(vcpu, 'current')) ?? count(textOf(vcpu));
  return {
    ...(memoryBytes !== undefined ? { memoryBytes } : {}),
    ...(vcpus !== undefined ? { vcpus } : {}),
  };
}
