import { describe, expect, it } from 'vitest';
import { decideReplaceable, pathsNamedIn, qcow2Disks, replacementCandidates } from '../../../src/domain/replaced-files';

const oldVm = `<domain type="kvm"><name>web</name>
  <os><type>hvm</type><loader readonly="yes" type="pflash">/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>/images/web_VARS.fd</nvram></os>
  <devices>
    <disk type="file" device="disk"><driver name="qemu" type="qcow2"/><source file="/images/web.qcow2"/><target dev="vda"/></disk>
    <disk type="file" device="disk"><source file="/images/shared.raw"/><target dev="vdb"/><shareable/></disk>
    <disk type="file" device="disk"><source file="/images/golden.raw"/><target dev="vdc"/><readonly/></disk>
    <disk type="file" device="cdrom"><source file="/isos/install.iso"/><target dev="sda"/></disk>
    <disk type="block" device="disk"><source dev="/dev/sdb"/><target dev="vdd"/></disk>
  </devices></domain>`;

describe('what force may delete of a replaced VM', () => {
  it('candidates are writable file disks and the variable store; read-only and shareable disks are kept', () => {
    expect(replacementCandidates(oldVm)).toEqual({
      candidates: ['/images/web.qcow2', '/images/web_VARS.fd'],
      kept: [
        { path: '/images/shared.raw', reason: 'it is a shareable disk' },
        { path: '/images/golden.raw', reason: 'it is a read-only disk' },
      ],
    });
  });

  it('every path another domain names counts, wherever it is named', () => {
    const other = `<domain><name>o</name><os><kernel>/boot/vmlinuz</kernel></os><devices>
      <disk type="file" device="disk"><driver type="qcow2"/><source file="/images/o.qcow2"/><backingStore type="file"><source file="/images/./web.qcow2"/></backingStore></disk>
      <serial><log file="/var/log/o.log"/></serial></devices></domain>`;
    expect(pathsNamedIn(other).sort()).toEqual([
      '/boot/vmlinuz',
      '/images/o.qcow2',
      '/images/web.qcow2',
      '/var/log/o.log',
    ]);
    expect(qcow2Disks(other)).toEqual(['/images/o.qcow2']);
  });

  it('attack: keeps files outside the roots, symlinks, and files another domain uses (by path or by what it resolves to)', () => {
    const roots = [{ path: '/images', real: '/images' }];
    const decided = decideReplaceable(
      [
        { path: '/images/web.qcow2', real: '/images/web.qcow2', kind: 'file' },
        { path: '/etc/passwd', real: '/etc/passwd', kind: 'file' },
        { path: '/images/link.qcow2', real: '/images/target.qcow2', kind: 'symlink' },
        { path: '/images/used.qcow2', real: '/images/used.qcow2', kind: 'file' },
        { path: '/images/alias.qcow2', real: '/images/real.qcow2', kind: 'file' },
        { path: '/images/gone.qcow2', real: '/images/gone.qcow2', kind: 'missing' },
      ],
      roots,
      [
        { path: '/images/used.qcow2', real: '/images/used.qcow2', kind: 'file' },
        { path: '/other/real.qcow2', real: '/images/real.qcow2', kind: 'file' },
      ],
    );
    expect(decided.paths).toEqual(['/images/web.qcow2']);
    expect(decided.kept).toEqual([
      { path: '/etc/passwd', reason: expect.stringContaining('outside') },
      { path: '/images/link.qcow2', reason: 'it is a symlink, not a regular file' },
      { path: '/images/used.qcow2', reason: 'another domain on this host uses it' },
      { path: '/images/alias.qcow2', reason: 'another domain on this host uses it' },
    ]);
  });
});
