import { describe, expect, it } from 'vitest';
import type { SourceFile } from '../../../src/domain/copied-file';
import {
  addedDiskRenames,
  addedFiles,
  assertRoomForAddedDisks,
  chooseHashing,
  detachedDisks,
  fileSyncResult,
  matchTargetFiles,
  syncMethod,
  syncTotals,
  type SyncedFile,
  type TargetFiles,
} from '../../../src/domain/sync-plan';
import { ErrorCode } from '../../../src/errors';

function sourceFile(role: SourceFile['role'], target: string, sourcePath: string, more: Partial<SourceFile> = {}) {
  return {
    role,
    target,
    depth: 0,
    sourcePath,
    format: 'qcow2',
    fileSize: 1000,
    virtualSize: 4000,
    allocatedSize: 600,
    ...more,
  } satisfies SourceFile;
}

const target: TargetFiles = {
  name: 'web01-standby',
  files: [
    sourceFile('disk', 'vda', '/vms/web01-standby-vda.qcow2'),
    sourceFile('backing', 'vda', '/vms/web01-standby-vda-backing1.qcow2', { depth: 1 }),
    sourceFile('disk', 'vdc', '/vms/web01-standby-vdc.qcow2'),
  ],
  tpmDir: '/var/lib/libvirt/swtpm/5f0c',
  freeBytes: 10_000,
};

describe('matchTargetFiles', () => {
  it('updates the target file of the same role, disk and depth in place, resizing it when the sizes differ', () => {
    const files = matchTargetFiles(
      [
        sourceFile('disk', 'vda', '/src/web01.qcow2', { fileSize: 2000 }),
        sourceFile('backing', 'vda', '/src/base.qcow2', { depth: 1 }),
      ],
      target,
      { verify: true, partialTag: 'abc' },
    );
    expect(
      files.map(({ destinationPath, writePath, action, destinationSize }) => ({
        destinationPath,
        writePath,
        action,
        destinationSize,
      })),
    ).toEqual([
      {
        destinationPath: '/vms/web01-standby-vda.qcow2',
        writePath: '/vms/web01-standby-vda.qcow2',
        action: 'resized',
        destinationSize: 1000,
      },
      {
        destinationPath: '/vms/web01-standby-vda-backing1.qcow2',
        writePath: '/vms/web01-standby-vda-backing1.qcow2',
        action: 'updated',
        destinationSize: 1000,
      },
    ]);
  });

  it('adds a file the target lacks beside its first file, named as a clone names it, written under a partial name', () => {
    const [disk, tpm] = matchTargetFiles(
      [sourceFile('disk', 'vdb', '/src/data.raw', { format: 'raw' }), sourceFile('tpm', 'tpm2/state', '/src/tpm')],
      target,
      { verify: false, partialTag: 'abc' },
    );
    expect(disk).toMatchObject({
      action: 'added',
      destinationPath: '/vms/web01-standby-vdb.raw',
      writePath: '/vms/web01-standby-vdb.raw.kvm-clone-abc.part',
      destinationSize: 1000,
      verification: 'none',
    });
    expect(tpm).toMatchObject({ action: 'added', destinationPath: '/var/lib/libvirt/swtpm/5f0c/tpm2/state' });
  });

  it('writes added files under their final names without a partial tag', () => {
    const [disk] = matchTargetFiles([sourceFile('disk', 'vdb', '/src/data.qcow2')], target, { verify: true });
    expect(disk!.writePath).toBe(disk!.destinationPath);
  });

  it('gives each file counters of its own', () => {
    const [first, second] = matchTargetFiles(
      [sourceFile('disk', 'vda', '/src/a.qcow2'), sourceFile('disk', 'vdb', '/src/b.qcow2')],
      target,
      { verify: true },
    );
    first!.counts.bytesTransferred += 5;
    expect(second!.counts.bytesTransferred).toBe(0);
  });
});

describe('detachedDisks', () => {
  it('names the target disks the source no longer has, not their backing layers', () => {
    expect(detachedDisks([sourceFile('disk', 'vda', '/src/a.qcow2')], target.files)).toEqual(['vdc']);
  });
});

describe('assertRoomForAddedDisks', () => {
  const added = (allocatedSize: number) =>
    matchTargetFiles([sourceFile('disk', 'vdb', '/src/b.qcow2', { allocatedSize })], target, { verify: true });

  it('lets added disks through that fit in the free space', () => {
    expect(() => assertRoomForAddedDisks(added(10_000), target)).not.toThrow();
  });

  it('fails with 1204 naming the bytes needed and free when they do not', () => {
    expect(() => assertRoomForAddedDisks(added(10_001), target)).toThrow(
      expect.objectContaining({
        code: ErrorCode.DISK_SPACE_ERROR,
        message: "the disks added on the source need 10001 bytes; 10000 are free beside 'web01-standby'",
      }),
    );
  });
});

describe('chooseHashing', () => {
  const both = { python3: true, perl: true };
  const perlOnly = { python3: false, perl: true };
  const neither = { python3: false, perl: false };

  it('copies whole without deltaOnly, and says nothing', () => {
    expect(chooseHashing(false, both, both)).toEqual({ hashTool: 'none', warnings: [] });
  });

  it('hashes with python3 when both hosts have it', () => {
    expect(chooseHashing(true, both, both)).toEqual({ hashTool: 'python3', warnings: [] });
  });

  it('falls back to perl, and then to a whole copy, saying so', () => {
    expect(chooseHashing(true, both, perlOnly)).toEqual({
      hashTool: 'perl',
      warnings: ['python3 is missing on a host; blocks are hashed with perl, which is slower'],
    });
    expect(chooseHashing(true, neither, both).hashTool).toBe('none');
    expect(chooseHashing(true, neither, both).warnings[0]).toContain('every disk is copied whole');
  });
});

describe('syncMethod', () => {
  const tracked = { changed: [], compare: [] };
  const options = { hashTool: 'python3' as const, verify: true, fullVerify: false };

  it('copies an added file, or any file without a hash tool, whole', () => {
    expect(syncMethod({ action: 'added' }, options).changeTracking).toBe('full-copy');
    expect(syncMethod({ action: 'updated', tracked }, { ...options, hashTool: 'none' }).changeTracking).toBe(
      'full-copy',
    );
  });

  it('tracks a disk with bitmap changes by them, and checks only the synced ranges unless fullVerify', () => {
    expect(syncMethod({ action: 'updated', tracked }, options)).toEqual({
      changeTracking: 'checkpoint',
      verification: 'synced-ranges',
    });
    expect(syncMethod({ action: 'updated', tracked }, { ...options, fullVerify: true }).verification).toBe('file');
    expect(syncMethod({ action: 'updated', tracked }, { ...options, verify: false }).verification).toBe('none');
  });

  it('hashes and checks the whole file otherwise', () => {
    expect(syncMethod({ action: 'resized' }, options)).toEqual({ changeTracking: 'block-hash', verification: 'file' });
  });
});

describe('results', () => {
  function synced(): SyncedFile[] {
    const files = matchTargetFiles(
      [sourceFile('disk', 'vda', '/src/a.qcow2'), sourceFile('disk', 'vdb', '/src/b.qcow2')],
      target,
      { verify: true, partialTag: 'abc' },
    );
    files[0]!.counts = { bytesCompared: 100, bytesTransferred: 10, blocksSynchronized: 1, bytesUnchanged: 90 };
    files[1]!.counts = { bytesCompared: 0, bytesTransferred: 1000, blocksSynchronized: 0, bytesUnchanged: 0 };
    files[1]!.changeTracking = 'full-copy';
    return files;
  }

  it("renames only the added disks' partial files, and records only added files other than TPM state", () => {
    const files = synced();
    expect(addedDiskRenames(files)).toEqual([
      { from: '/vms/web01-standby-vdb.qcow2.kvm-clone-abc.part', to: '/vms/web01-standby-vdb.qcow2' },
    ]);
    expect(addedFiles(files)).toEqual(['/vms/web01-standby-vdb.qcow2']);
  });

  it("sums the files' counters, found by hashing unless a file was tracked by checkpoint", () => {
    const files = synced();
    expect(syncTotals(files, 'python3')).toEqual({
      bytesTransferred: 1010,
      blocksSynchronized: 1,
      bytesCompared: 100,
      bytesUnchanged: 90,
      changeTracking: 'block-hash',
    });
    expect(syncTotals(files, 'none').changeTracking).toBe('full-copy');
    files[0]!.changeTracking = 'checkpoint';
    expect(syncTotals(files, 'python3').changeTracking).toBe('checkpoint');
  });

  it("reports a file's line with its counters and digest", () => {
    const [file] = synced();
    file!.digest = { algorithm: 'sha256', source: 'ab', destination: 'ab' };
    expect(fileSyncResult(file!)).toEqual({
      role: 'disk',
      target: 'vda',
      sourcePath: '/src/a.qcow2',
      destinationPath: '/vms/web01-standby-vda.qcow2',
      action: 'updated',
      bytesCompared: 100,
      bytesTransferred: 10,
      blocksSynchronized: 1,
      bytesUnchanged: 90,
      changeTracking: 'block-hash',
      verification: 'file',
      digest: { algorithm: 'sha256', source: 'ab', destination: 'ab' },
    });
  });
});
