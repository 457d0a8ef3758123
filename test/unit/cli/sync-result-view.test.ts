import { describe, expect, it } from 'vitest';
import { syncResultText } from '../../../src/cli/sync-result-view';
import type { FileSyncResult, SyncResult } from '../../../src/domain/sync-result';

const file = (overrides: Partial<FileSyncResult>): FileSyncResult => ({
  role: 'disk',
  target: 'vda',
  sourcePath: '/a/vda.qcow2',
  destinationPath: '/b/vda.qcow2',
  action: 'updated',
  bytesCompared: 0,
  bytesTransferred: 0,
  blocksSynchronized: 0,
  bytesUnchanged: 0,
  changeTracking: 'block-hash',
  verification: 'file',
  ...overrides,
});

const result: SyncResult = {
  operationId: 'sync:b:web01',
  success: true,
  vmName: 'web01',
  targetName: 'web01',
  sourceHost: 'a',
  destinationHost: 'b',
  durationSeconds: 2.5,
  bytesTransferred: 1048576,
  blocksSynchronized: 16,
  bytesCompared: 65536,
  bytesUnchanged: 4 * 1048576,
  blockSize: 65536,
  changeTracking: 'checkpoint',
  checkpoint: 'kvm-clone-0a1b2c3d-1700000000000',
  hashTool: 'python3',
  files: [
    file({ changeTracking: 'checkpoint', verification: 'synced-ranges' }),
    file({
      target: 'vdb',
      changeTracking: 'block-hash',
      digest: { algorithm: 'sha256', source: 'ab'.repeat(32), destination: 'ab'.repeat(32) },
    }),
    file({ target: 'vdc', changeTracking: 'full-copy', verification: 'none', action: 'added' }),
  ],
  consistency: 'crash-consistent',
  compression: 'none',
  transport: 'relay',
  rangesRecopied: 0,
  detachedDisks: [],
  warnings: ['disk vdb is raw, and dirty bitmaps need qcow2; its blocks are hashed'],
};

describe('syncResultText', () => {
  it('shows how each file was tracked and checked, and the checkpoint left for the next sync', () => {
    const text = syncResultText(result);
    expect(text).toContain('change tracking checkpoint (python3)');
    expect(text).toMatch(/vda\s+disk\s+updated\s+checkpoint\s+.*synced ranges verified/);
    expect(text).toMatch(/vdb\s+disk\s+updated\s+block-hash\s+.*abababababababab… \(verified\)/);
    expect(text).toMatch(/vdc\s+disk\s+added\s+full-copy\s+.*not verified/);
    expect(text).toContain('left checkpoint kvm-clone-0a1b2c3d-1700000000000 on the source for the next sync');
    expect(text).toContain('warning: disk vdb is raw');
  });
});
