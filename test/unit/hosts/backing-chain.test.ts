import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { parseImageInfo, requireCopyableFormat } from '../../../src/hosts/backing-chain';

describe('parseImageInfo', () => {
  const info = (entry: Record<string, unknown>) =>
    JSON.stringify({ 'virtual-size': 1048576, 'actual-size': 4096, ...entry });

  it('describes one layer with the declared format and an absolute backing file', () => {
    expect(
      parseImageInfo(
        info({ format: 'qcow2', 'backing-filename': 'base.qcow2', 'backing-filename-format': 'raw' }),
        '/vms/top.qcow2',
        'qcow2',
      ),
    ).toEqual({
      path: '/vms/top.qcow2',
      format: 'qcow2',
      virtualSize: 1048576,
      allocatedSize: 4096,
      backingFile: '/vms/base.qcow2',
      backingFormat: 'raw',
    });
    expect(parseImageInfo(info({ format: 'raw' }), '/vms/d.img', 'raw')).toEqual({
      path: '/vms/d.img',
      format: 'raw',
      virtualSize: 1048576,
      allocatedSize: 4096,
    });
  });

  it('refuses a layer read as another format than declared, or with an external data file', () => {
    expect(() => parseImageInfo(info({ format: 'qcow2' }), '/vms/d.img', 'raw')).toThrow(
      expect.objectContaining({ code: ErrorCode.CLONE_ERROR }),
    );
    expect(() =>
      parseImageInfo(
        info({ format: 'qcow2', 'format-specific': { type: 'qcow2', data: { 'data-file': '/dev/sda' } } }),
        '/vms/t.qcow2',
        'qcow2',
      ),
    ).toThrow(expect.objectContaining({ code: ErrorCode.CLONE_ERROR, message: expect.stringContaining('/dev/sda') }));
    expect(() => parseImageInfo('nope', '/vms/t.qcow2', 'qcow2')).toThrow(
      expect.objectContaining({ code: ErrorCode.TRANSFER_ERROR }),
    );
  });
});

describe('requireCopyableFormat', () => {
  it('takes raw and qcow2, and refuses an undeclared format (probing) or another format with 1200', () => {
    expect(requireCopyableFormat('/a', 'raw', 'the XML')).toBe('raw');
    expect(requireCopyableFormat('/a', 'qcow2', 'the XML')).toBe('qcow2');
    expect(() => requireCopyableFormat('/base', undefined, 'its overlay /top')).toThrow(
      expect.objectContaining({ code: ErrorCode.CLONE_ERROR, message: expect.stringContaining('never probes') }),
    );
    expect(() => requireCopyableFormat('/a', 'vmdk', 'the XML')).toThrow(
      expect.objectContaining({ code: ErrorCode.CLONE_ERROR, message: expect.stringContaining('vmdk') }),
    );
  });
});
