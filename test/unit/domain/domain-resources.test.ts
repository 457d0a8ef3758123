import { describe, expect, it } from 'vitest';
import { domainResources, libvirtUnitFactor } from '../../../src/domain/domain-resources';
import { ErrorCode } from '../../../src/errors';

function domain(inner: string): string {
  return `<domain type='kvm'><name>web</name>${inner}<devices/></domain>`;
}

const GiB = 1024 ** 3;

describe('domainResources', () => {
  it("reads <memory> in libvirt's units and the vCPU count", () => {
    expect(
      domainResources(
        domain(`<memory unit='KiB'>2097152</memory><currentMemory unit='KiB'>1048576</currentMemory><vcpu>4</vcpu>`),
      ),
    ).toEqual({ memoryBytes: 2 * GiB, vcpus: 4 });
  });

  it('takes <memory>, not the balloon target <currentMemory>: qemu maps the whole of it at start', () => {
    expect(domainResources(domain(`<memory unit='GiB'>8</memory><currentMemory unit='GiB'>2</currentMemory>`))).toEqual(
      {
        memoryBytes: 8 * GiB,
      },
    );
  });

  it('counts the vCPUs online at boot (<vcpu current>), not the hotplug maximum', () => {
    expect(domainResources(domain(`<vcpu placement='static' current='2'>16</vcpu>`))).toEqual({ vcpus: 2 });
  });

  it('reads KiB when no unit is given, and a 64 TiB domain exactly', () => {
    expect(domainResources(domain('<memory>1024</memory>')).memoryBytes).toBe(1024 * 1024);
    expect(domainResources(domain(`<memory unit='TiB'>64</memory>`)).memoryBytes).toBe(64 * 1024 ** 4);
    expect(domainResources(domain(`<memory unit='KiB'>68719476736</memory>`)).memoryBytes).toBe(64 * 1024 ** 4);
  });

  it('leaves out what it cannot read rather than guessing: untrusted XML from the source', () => {
    for (const inner of [
      `<memory unit='KiB'>-5</memory><vcpu>two</vcpu>`,
      `<memory unit='KiB'>1e9</memory><vcpu>0x10</vcpu>`,
      `<memory unit='furlongs'>5</memory><vcpu> </vcpu>`,
      `<memory unit='KiB'>123456789012345678901234</memory>`,
      '',
    ])
      expect(domainResources(domain(inner))).toEqual({});
    expect(domainResources(domain(`<vcpu current='x'>3</vcpu>`))).toEqual({ vcpus: 3 });
  });

  it('refuses a document that is not a domain (1009), like every parse of the XML', () => {
    expect(() => domainResources('<network/>')).toThrow(expect.objectContaining({ code: ErrorCode.LIBVIRT_ERROR }));
  });
});

describe('libvirtUnitFactor', () => {
  it('follows libvirt: case-insensitive, KB is 1000, K and KiB are 1024, no unit is KiB', () => {
    expect(libvirtUnitFactor(undefined)).toBe(1024);
    expect(libvirtUnitFactor('b')).toBe(1);
    expect(libvirtUnitFactor('bytes')).toBe(1);
    expect(libvirtUnitFactor('k')).toBe(1024);
    expect(libvirtUnitFactor('KiB')).toBe(1024);
    expect(libvirtUnitFactor('KB')).toBe(1000);
    expect(libvirtUnitFactor('mb')).toBe(1000 ** 2);
    expect(libvirtUnitFactor('M')).toBe(1024 ** 2);
    expect(libvirtUnitFactor('GiB')).toBe(1024 ** 3);
    expect(libvirtUnitFactor('T')).toBe(1024 ** 4);
    expect(libvirtUnitFactor('PiB')).toBe(1024 ** 5);
    expect(libvirtUnitFactor('EB')).toBe(1000 ** 6);
    for (const bad of ['', 'x', 'KiBB', 'Kb2', 'iB']) expect(libvirtUnitFactor(bad)).toBeUndefined();
  });
});
