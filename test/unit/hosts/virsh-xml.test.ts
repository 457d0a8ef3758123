import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { emulatorSupportFromXml, poolTargetPathFromXml } from '../../../src/hosts/virsh-xml';

describe('poolTargetPathFromXml', () => {
  it('reads the target directory of a dir pool, unescaping XML', () => {
    const xml = `<pool type='dir'><name>p</name><source></source><target><path>/srv/pools/a &amp; b&apos;s</path><permissions><mode>0755</mode></permissions></target></pool>`;
    expect(poolTargetPathFromXml(xml)).toBe("/srv/pools/a & b's");
  });

  it('ignores a <path> outside <target> and gives undefined for pools without a target', () => {
    expect(
      poolTargetPathFromXml(
        `<pool type='rbd'><name>r</name><source><name>rbd</name><path>/not/it</path></source></pool>`,
      ),
    ).toBeUndefined();
  });

  it('refuses a document that is not a pool', () => {
    expect(() => poolTargetPathFromXml('<network/>')).toThrow(
      expect.objectContaining({ code: ErrorCode.LIBVIRT_ERROR }),
    );
    expect(() => poolTargetPathFromXml('<pool><target>')).toThrow(
      expect.objectContaining({ code: ErrorCode.LIBVIRT_ERROR }),
    );
  });
});

describe('emulatorSupportFromXml', () => {
  it('reads the canonical emulator, machine, arch and domain type', () => {
    const xml = `<domainCapabilities><path>/usr/bin/qemu-system-x86_64</path><domain>qemu</domain><machine>pc-i440fx-7.2</machine><arch>x86_64</arch><vcpu max='255'/></domainCapabilities>`;
    expect(emulatorSupportFromXml(xml)).toEqual({
      domainType: 'qemu',
      emulator: '/usr/bin/qemu-system-x86_64',
      machine: 'pc-i440fx-7.2',
      arch: 'x86_64',
    });
  });
});
