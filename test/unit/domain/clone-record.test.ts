import { describe, expect, it } from 'vitest';
import {
  cloneRecordOf,
  cloneRecordXml,
  fileOutsideRecord,
  mergeCloneRecords,
  withCloneRecord,
  CLONE_RECORD_NAMESPACE,
} from '../../../src/domain/clone-record';

const domain = (metadata = '') => `<domain type="kvm">
  <name>web</name>
  <uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>${metadata}
  <devices><disk type="file" device="disk"><source file="/images/web.qcow2"/><target dev="vda"/></disk></devices>
</domain>`;

describe('clone records', () => {
  it('travel inside the definition and read back, hostile paths included', () => {
    const record = {
      operation: 'clone-web-1',
      files: ['/images/web.qcow2', '/images/a "b" & <c>.qcow2', '/images/./x/../web-vdb.raw'],
    };
    const xml = withCloneRecord(domain(), record);
    expect(xml).toContain(`xmlns:kvmcloneown="${CLONE_RECORD_NAMESPACE}"`);
    expect(cloneRecordOf(xml)).toEqual({
      operation: 'clone-web-1',
      files: ['/images/a "b" & <c>.qcow2', '/images/web-vdb.raw', '/images/web.qcow2'],
    });
  });

  it('replace whatever kvm-clone metadata the source carried: a forged record, a sync marker, a checkpoint record', () => {
    const forged = `
  <metadata>
    <other:note xmlns:other="https://example.org/x">kept</other:note>
    <kvmcloneown:clone xmlns:kvmcloneown="${CLONE_RECORD_NAMESPACE}" operation="evil"><kvmcloneown:file path="/images/shared-base.qcow2"/></kvmcloneown:clone>
    <kvmclone:sync xmlns:kvmclone="https://kvm-clone.dev/xmlns/sync/1" state="incomplete" operation="x"/>
    <kvmclonecp:checkpoint xmlns:kvmclonecp="https://kvm-clone.dev/xmlns/checkpoint/1" name="c" source-uuid="u"/>
  </metadata>`;
    const xml = withCloneRecord(domain(forged), { operation: 'mine', files: ['/images/web.qcow2'] });
    expect(cloneRecordOf(xml)).toEqual({ operation: 'mine', files: ['/images/web.qcow2'] });
    expect(xml).toContain('https://example.org/x');
    expect(xml).not.toContain('shared-base');
    expect(xml).not.toContain('kvm-clone.dev/xmlns/sync');
    expect(xml).not.toContain('kvm-clone.dev/xmlns/checkpoint');
  });

  it('is absent from a domain without one, and an element of another namespace named clone is not one', () => {
    expect(cloneRecordOf(domain())).toBeUndefined();
    expect(
      cloneRecordOf(
        domain(
          '<metadata><x:clone xmlns:x="https://example.org/x" operation="o"><x:file path="/a"/></x:clone></metadata>',
        ),
      ),
    ).toBeUndefined();
  });

  it('reads as virsh metadata --set stores it', () => {
    const stored = `<metadata><kvmcloneown:clone xmlns:kvmcloneown="${CLONE_RECORD_NAMESPACE}" operation="o"><kvmcloneown:file path="/images/b"/><kvmcloneown:file path="relative"/></kvmcloneown:clone></metadata>`;
    expect(cloneRecordOf(domain(stored))).toEqual({ operation: 'o', files: ['/images/b'] });
    expect(cloneRecordXml({ operation: 'o', files: ['/images/b', '/images/b'] })).toBe(
      '<clone operation="o"><file path="/images/b"/></clone>',
    );
  });

  it('merge keeps the clone that made the domain and adds a sync’s files', () => {
    expect(
      mergeCloneRecords({ operation: 'clone-1', files: ['/i/a'] }, { operation: 'sync-2', files: ['/i/b', '/i/a'] }),
    ).toEqual({ operation: 'clone-1', files: ['/i/a', '/i/b'] });
    expect(mergeCloneRecords(undefined, { operation: 'sync-2', files: ['/i/b'] })).toEqual({
      operation: 'sync-2',
      files: ['/i/b'],
    });
  });

  it('finds the file of a target the record does not vouch for: a shared base image, a disk attached by hand', () => {
    const record = { operation: 'o', files: ['/images/web.qcow2', '/images/web-base.qcow2'] };
    const tpmDir = '/home/u/.config/libvirt/qemu/swtpm/1b4e';
    const own = [
      { role: 'disk', target: 'vda', depth: 0, sourcePath: '/images/web.qcow2' },
      { role: 'backing', target: 'vda', depth: 1, sourcePath: '/images/./web-base.qcow2' },
      { role: 'tpm', target: 'tpm2/tpm2-00.permall', depth: 0, sourcePath: `${tpmDir}/tpm2/tpm2-00.permall` },
    ];
    expect(fileOutsideRecord(record, own, tpmDir)).toBeUndefined();
    const shared = { role: 'backing', target: 'vda', depth: 2, sourcePath: '/images/golden.qcow2' };
    expect(fileOutsideRecord(record, [...own, shared], tpmDir)).toEqual({
      file: shared,
      reason: expect.stringContaining('shared base image'),
    });
    const attached = { role: 'disk', target: 'vdb', depth: 0, sourcePath: '/images/other.raw' };
    expect(fileOutsideRecord(record, [attached], tpmDir)?.reason).toContain('not a file the clone made');
    const strayTpm = { role: 'tpm', target: 'x', depth: 0, sourcePath: '/home/u/.config/libvirt/qemu/swtpm/other/x' };
    expect(fileOutsideRecord(record, [strayTpm], tpmDir)?.reason).toContain('TPM state');
  });
});
