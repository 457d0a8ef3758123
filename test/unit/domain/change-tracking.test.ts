import { describe, expect, it } from 'vitest';
import {
  checkpointPrefix,
  MAX_TRACKED_EXTENTS,
  planChangeTracking,
  trackedFileChanges,
  type ChangeTrackingFacts,
} from '../../../src/domain/change-tracking';

const KiB = 1024;
const block = 64 * KiB;
const e = (start: number, length: number) => ({ start, length });

describe('trackedFileChanges', () => {
  // A qcow2 file: 3 metadata clusters, then guest clusters 0..3 stored at file offsets 3..6 (cluster 2 at the end).
  const map = [
    { start: 0, length: 2 * block, depth: 0, offset: 3 * block },
    { start: 2 * block, length: block, depth: 0, offset: 6 * block },
    { start: 3 * block, length: block, depth: 0, offset: 5 * block },
    { start: 4 * block, length: 4 * block, depth: 0 },
    { start: 8 * block, length: block, depth: 1, offset: 0 },
  ];
  const fileSize = 7 * block + 100;

  it('sends the file clusters that hold dirty guest ranges, and compares what is not guest data', () => {
    const changes = trackedFileChanges([e(2 * block + 10, 20), e(3 * block, block)], map, fileSize, block);
    expect(changes.changed).toEqual([e(5 * block, 2 * block)]);
    // The header and tables, and the partial cluster at the end of the file.
    expect(changes.compare).toEqual([e(0, 3 * block), e(7 * block, 100)]);
  });

  it('ignores dirty ranges the image stores nothing for, and layers below it', () => {
    const changes = trackedFileChanges([e(5 * block, block), e(8 * block, block)], map, fileSize, block);
    expect(changes.changed).toEqual([]);
  });

  it('never compares what it sends', () => {
    const unaligned = [{ start: 0, length: block, depth: 0, offset: block + 512 }];
    const changes = trackedFileChanges([e(0, block)], unaligned, 3 * block, block);
    expect(changes.changed).toEqual([e(block, 2 * block)]);
    expect(changes.compare).toEqual([e(0, block)]);
  });

  it('keeps the lists bounded for workflow history', () => {
    const scattered = Array.from({ length: 3 * MAX_TRACKED_EXTENTS }, (_, index) => ({
      start: index * 2 * block,
      length: block,
      depth: 0,
      offset: index * 2 * block,
    }));
    const dirty = scattered.map((entry) => e(entry.start, entry.length));
    const changes = trackedFileChanges(dirty, scattered, 6 * MAX_TRACKED_EXTENTS * block, block);
    expect(changes.changed.length).toBeLessThanOrEqual(MAX_TRACKED_EXTENTS);
    expect(changes.changed[0]!.start).toBe(0);
  });
});

describe('checkpointPrefix', () => {
  it('differs per target VM, and is stable', () => {
    const uuid = '22222222-2222-2222-2222-222222222222';
    expect(checkpointPrefix(uuid)).toBe(checkpointPrefix(uuid));
    expect(checkpointPrefix(uuid)).not.toBe(checkpointPrefix('33333333-3333-3333-3333-333333333333'));
    expect(checkpointPrefix(uuid)).toMatch(/^kvm-clone-[0-9a-f]{8}-$/);
  });
});

describe('planChangeTracking', () => {
  const disk = (target: string, format: string, action: 'updated' | 'added' | 'resized' = 'updated') => ({
    role: 'disk',
    target,
    depth: 0,
    format,
    action,
    destinationPath: `/d/${target}`,
  });
  const facts = (overrides: Partial<ChangeTrackingFacts> = {}): ChangeTrackingFacts => ({
    sourceRunning: true,
    sourceUuid: 'u1',
    targetName: 'web',
    files: [
      disk('vda', 'qcow2'),
      disk('vdb', 'raw'),
      { ...disk('vda', 'qcow2'), depth: 1, destinationPath: '/d/base' },
    ],
    record: { name: 'cp1', sourceUuid: 'u1', fingerprints: { '/d/vda': '1 2 3' } },
    fingerprints: { '/d/vda': '1 2 3', '/d/vdb': '9 9 9' },
    ...overrides,
  });

  it('tracks qcow2 top images whose destination is as the last sync left it', () => {
    expect(planChangeTracking(facts())).toEqual({
      bitmapTargets: ['vda'],
      trackedTargets: ['vda'],
      since: 'cp1',
      warnings: [expect.stringContaining('vdb is raw')],
    });
  });

  it('hashes a file touched on the destination since', () => {
    const plan = planChangeTracking(facts({ fingerprints: { '/d/vda': '1 2 4' } }));
    expect(plan.trackedTargets).toEqual([]);
    expect(plan.since).toBeUndefined();
    expect(plan.warnings.join()).toContain('/d/vda changed on the destination');
  });

  it('hashes without a record, or with one from another VM, and still leaves a checkpoint', () => {
    const none = planChangeTracking(facts({ record: undefined }));
    expect(none).toMatchObject({ bitmapTargets: ['vda'], trackedTargets: [] });
    expect(none.warnings.join()).toContain('no checkpoint from an earlier sync');
    const other = planChangeTracking(facts({ sourceUuid: 'u2' }));
    expect(other).toMatchObject({ bitmapTargets: ['vda'], trackedTargets: [] });
    expect(other.warnings.join()).toContain('another VM');
  });

  it('does nothing for a shut-off source, and never tracks an added disk', () => {
    expect(planChangeTracking(facts({ sourceRunning: false }))).toMatchObject({
      bitmapTargets: [],
      trackedTargets: [],
      warnings: [expect.stringContaining('running source')],
    });
    expect(planChangeTracking(facts({ files: [disk('vda', 'qcow2', 'added')] }))).toEqual({
      bitmapTargets: ['vda'],
      trackedTargets: [],
      warnings: [],
    });
  });
});
