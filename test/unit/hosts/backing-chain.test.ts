import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { parseBackingChain, parseImageInfo, requireCopyableFormat } from '../../../src/hosts/backing-chain';

// Trimmed from qemu-img 7.2 `info --backing-chain --output=json`.
const threeLevels = JSON.stringify([
  {
    'backing-filename-format': 'qcow2',
    'virtual-size': 1048576,
    'actual-size': 200704,
    filename: '/vms/a b/sub/top.qcow2',
    format: 'qcow2',
    'full-backing-filename': '/vms/a b/sub/mid.qcow2',
    'backing-filename': 'mid.qcow2',
  },
  {
    'backing-filename-format': 'raw',
    'virtual-size': 1048576,
    filename: '/vms/a b/sub/mid.qcow2',
    format: 'qcow2',
    'full-backing-filename': '/vms/a b/sub/../base.raw',
    'backing-filename': '../base.raw',
  },
  { 'virtual-size': 1048576, filename: '/vms/a b/sub/../base.raw', format: 'raw' },
]);

describe('parseBackingChain', () => {
  it('lists the chain top first, with absolute backing paths and formats', () => {
    expect(parseBackingChain(threeLevels, '/vms/a b/sub/top.qcow2')).toEqual([
      { path: '/vms/a b/sub/top.qcow2', format: 'qcow2', virtualSize: 1048576, allocatedSize: 200704, backingFile: '/vms/a b/sub/mid.qcow2', backingFormat: 'qcow2' },
      { path: '/vms/a b/sub/mid.qcow2', format: 'qcow2', virtualSize: 1048576, allocatedSize: 0, backingFile: '/vms/a b/sub/../base.raw', backingFormat: 'raw' },
      { path: '/vms/a b/sub/../base.raw', format: 'raw', virtualSize: 1048576, allocatedSize: 0 },
    ]);
  });

  it('resolves a relative reference against the image directory when qemu-img gives no full name', () => {
    const json = JSON.stringify([
      { 'virtual-size': 10, filename: '/x/top.qcow2', format: 'qcow2', 'backing-filename': 'base.qcow2' },
      { 'virtual-size': 10, filename: '/x/base.qcow2', format: 'qcow2' },
    ]);
    const chain = parseBackingChain(json, '/x/top.qcow2');
    expect(chain[0]!.backingFile).toBe('/x/base.qcow2');
    expect(chain[0]!.backingFormat).toBeUndefined();
    expect(chain[1]!.path).toBe('/x/base.qcow2');
  });

  it('keeps an absolute reference and names the top as the caller did', () => {
    const json = JSON.stringify([
      { 'virtual-size': 10, filename: 'top.qcow2', format: 'qcow2', 'backing-filename': '/images/base.raw', 'backing-filename-format': 'raw' },
      { 'virtual-size': 10, filename: '/images/base.raw', format: 'raw' },
    ]);
    expect(parseBackingChain(json, '/vms/top.qcow2').map((entry) => entry.path)).toEqual(['/vms/top.qcow2', '/images/base.raw']);
  });

  it('accepts a single image without a backing file', () => {
    expect(parseBackingChain('{"virtual-size": 5, "format": "raw", "filename": "/d.img"}', '/d.img')).toEqual([{ path: '/d.img', format: 'raw', virtualSize: 5, allocatedSize: 0 }]);
  });

  it('refuses output that is not JSON, lacks a format, or ends above a backing file', () => {
    expect(() => parseBackingChain('qemu-img: oops', '/t')).toThrow(expect.objectContaining({ code: ErrorCode.TRANSFER_ERROR }));
    expect(() => parseBackingChain('[{"virtual-size": 1}]', '/t')).toThrow(expect.objectContaining({ code: ErrorCode.TRANSFER_ERROR }));
    const truncated = JSON.stringify([{ 'virtual-size': 1, format: 'qcow2', 'backing-filename': '/b' }]);
    expect(() => parseBackingChain(truncated, '/t')).toThrow(/did not describe/);
  });
});

describe('parseImageInfo', () => {
  const info = (entry: Record<string, unknown>) => JSON.stringify({ 'virtual-size': 1048576, 'actual-size': 4096, ...entry });

  it('describes one layer with the declared format and an absolute backing file', () => {
    expect(parseImageInfo(info({ format: 'qcow2', 'backing-filename': 'base.qcow2', 'backing-filename-format': 'raw' }), '/vms/top.qcow2', 'qcow2')).toEqual({
      path: '/vms/top.qcow2',
      format: 'qcow2',
      virtualSize: 1048576,
      allocatedSize: 4096,
      backingFile: '/vms/base.qcow2',
      backingFormat: 'raw',
    });
    expect(parseImageInfo(info({ format: 'raw' }), '/vms/d.img', 'raw')).toEqual({ path: '/vms/d.img', format: 'raw', virtualSize: 1048576, allocatedSize: 4096 });
  });

  it('refuses a layer read as another format than declared, or with an external data file', () => {
    expect(() => parseImageInfo(info({ format: 'qcow2' }), '/vms/d.img', 'raw')).toThrow(expect.objectContaining({ code: ErrorCode.CLONE_ERROR }));
    expect(() => parseImageInfo(info({ format: 'qcow2', 'format-specific': { type: 'qcow2', data: { 'data-file': '/dev/sda' } } }), '/vms/t.qcow2', 'qcow2')).toThrow(
      expect.objectContaining({ code: ErrorCode.CLONE_ERROR, message: expect.stringContaining('/dev/sda') }),
    );
    expect(() => parseImageInfo('nope', '/vms/t.qcow2', 'qcow2')).toThrow(expect.objectContaining({ code: ErrorCode.TRANSFER_ERROR }));
  });
});

describe('requireCopyableFormat', () => {
  it('takes raw and qcow2, and refuses an undeclared format (probing) or another format with 1200', () => {
    expect(requireCopyableFormat('/a', 'raw', 'the XML')).toBe('raw');
    expect(requireCopyableFormat('/a', 'qcow2', 'the XML')).toBe('qcow2');
    expect(() => requireCopyableFormat('/base', undefined, 'its overlay /top')).toThrow(expect.objectContaining({ code: ErrorCode.CLONE_ERROR, message: expect.stringContaining('never probes') }));
    expect(() => requireCopyableFormat('/a', 'vmdk', 'the XML')).toThrow(expect.objectContaining({ code: ErrorCode.CLONE_ERROR, message: expect.stringContaining('vmdk') }));
  });
});
