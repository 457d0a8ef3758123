import { describe, expect, it } from 'vitest';
import {
  isPartialPath,
  isUnderResolvedRoots,
  requireUnderRoots,
  type ResolvedPath,
} from '../../../src/domain/writable-roots';
import { ErrorCode } from '../../../src/errors';

const roots = [
  { path: '/var/lib/libvirt/images', real: '/data/images' },
  { path: '/srv/vms', real: '/srv/vms' },
];
const at = (path: string, real = path, kind: ResolvedPath['kind'] = 'file'): ResolvedPath => ({ path, real, kind });

describe('paths under resolved roots', () => {
  it('accepts a path below a root, written through the root or through what it resolves to', () => {
    expect(isUnderResolvedRoots(at('/var/lib/libvirt/images/a.qcow2', '/data/images/a.qcow2'), roots)).toBe(true);
    expect(isUnderResolvedRoots(at('/data/images/a.qcow2'), roots)).toBe(true);
    expect(isUnderResolvedRoots(at('/srv/vms/x/y.raw'), roots)).toBe(true);
  });

  it('attack: refuses a path that walks out with .., or that a symlink inside a root leads out of', () => {
    expect(isUnderResolvedRoots(at('/srv/vms/../../etc/cron.d/pwn', '/etc/cron.d/pwn'), roots)).toBe(false);
    expect(isUnderResolvedRoots(at('/srv/vms/evil/pwn', '/etc/cron.d/pwn'), roots)).toBe(false);
    expect(isUnderResolvedRoots(at('/etc/cron.d/pwn'), roots)).toBe(false);
    expect(isUnderResolvedRoots(at('/srv/vmsx/a'), roots)).toBe(false);
    expect(isUnderResolvedRoots(at('/srv/vms/a\nb'), roots)).toBe(false);
  });

  it('a root is a directory to write into, never a file to replace, unless asked for as a directory', () => {
    expect(isUnderResolvedRoots(at('/srv/vms', '/srv/vms', 'directory'), roots)).toBe(false);
    expect(isUnderResolvedRoots(at('/srv/vms/', '/srv/vms', 'directory'), roots, { allowRoot: true })).toBe(true);
  });

  it('refusal is 1302, naming the path, what it resolves to and the roots', () => {
    expect(() =>
      requireUnderRoots(at('/srv/vms/evil', '/etc/cron.d', 'directory'), roots, 'destination directory'),
    ).toThrow(
      expect.objectContaining({
        code: ErrorCode.INVALID_PATH,
        message: expect.stringMatching(
          /destination directory "\/srv\/vms\/evil" \(it resolves to "\/etc\/cron.d"\) is outside .*\/var\/lib\/libvirt\/images, \/srv\/vms/,
        ),
      }),
    );
    expect(requireUnderRoots(at('/srv/vms/./a'), roots, 'file')).toBe('/srv/vms/a');
  });

  it('knows an operation partial path by its name', () => {
    expect(isPartialPath('/srv/vms/web.qcow2.kvm-clone-0a1b2c3d.part')).toBe(true);
    expect(isPartialPath('/srv/vms/web.qcow2.kvm-clone-flat.part')).toBe(true);
    expect(isPartialPath('/srv/vms/web.qcow2')).toBe(false);
    expect(isPartialPath('/srv/vms/web.qcow2.kvm-clone-0a1b2c3d.part/x')).toBe(false);
  });
});
