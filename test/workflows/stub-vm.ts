/**
 * The world the workflow tests run in, as the stub activities report it: a VM `web01` on
 * host `src` with one qcow2 disk, cloned or synced to host `dst`. Every activity answers
 * as a real one would on a healthy pair of hosts; each test scripts what differs.
 */
import type { FileRole, SourceFile } from '../../src/domain/copied-file';
import type { FileDigest } from '../../src/domain/clone-result';
import type { CheckpointRecord } from '../../src/domain/change-tracking';
import type { Extent } from '../../src/domain/transfer-plan';
import type { ActivityName, ActivityResult, DefaultActivityScripts } from '../helpers/stub-activities';

export const SOURCE = 'src';
export const DESTINATION = 'dst';
export const VM = 'web01';
export const IMAGES = '/var/lib/libvirt/images';
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const SOURCE_UUID = '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b';
export const TARGET_UUID = '9e8d7c6b-5a49-4382-8716-0a1b2c3d4e5f';

function domainXml(name: string, uuid: string, mac: string, disks: { target: string; path: string }[]): string {
  return `<domain type='kvm'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='KiB'>2097152</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-8.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${disks
  .map(
    (disk) => `    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk.path}'/>
      <target dev='${disk.target}' bus='virtio'/>
    </disk>`,
  )
  .join('\n')}
    <interface type='network'>
      <mac address='${mac}'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
`;
}

/** A disk's top image (or another file) as inspectSource and inspectTarget list it. */
export function diskFile(target: string, path: string, fileSize = 64 * MiB, role: FileRole = 'disk'): SourceFile {
  return {
    role,
    target,
    depth: 0,
    sourcePath: path,
    format: 'qcow2',
    fileSize,
    virtualSize: 20 * GiB,
    allocatedSize: fileSize,
  };
}

export const sourceDisk = diskFile('vda', `${IMAGES}/${VM}.qcow2`);

/** The source VM with these disks (default: vda). */
export function sourceInspection(
  overrides: Partial<ActivityResult<'inspectSource'>> = {},
  files: SourceFile[] = [sourceDisk],
): ActivityResult<'inspectSource'> {
  return {
    state: 'shut off',
    inactiveXml: domainXml(
      VM,
      SOURCE_UUID,
      '52:54:00:aa:bb:01',
      files.filter((file) => file.role === 'disk').map((file) => ({ target: file.target, path: file.sourcePath })),
    ),
    files,
    guestAgent: false,
    compressors: { zstd: true, lz4: false },
    hashers: { python3: true, perl: true },
    warnings: [],
    ...overrides,
  };
}

/** The destination of a clone: room enough, nothing in the way. */
export function destinationCheck(
  overrides: Partial<ActivityResult<'checkDestination'>> = {},
): ActivityResult<'checkDestination'> {
  return { destDir: IMAGES, freeBytes: 500 * GiB, compressors: { zstd: true, lz4: false }, warnings: [], ...overrides };
}

/** The sync target `web01` on the destination, holding these files (default: vda). */
export function targetInspection(
  overrides: Partial<ActivityResult<'inspectTarget'>> = {},
  files: SourceFile[] = [diskFile('vda', `${IMAGES}/${VM}.qcow2`)],
): ActivityResult<'inspectTarget'> {
  return {
    inactiveXml: domainXml(
      VM,
      TARGET_UUID,
      '52:54:00:cc:dd:01',
      files.map((file) => ({ target: file.target, path: file.sourcePath })),
    ),
    files,
    freeBytes: 200 * GiB,
    tools: { zstd: true, lz4: false, python3: true, perl: true },
    fingerprints: {},
    ...overrides,
  };
}

/** What a checkpoint sync left on the target: its files unchanged since, so the bitmap vouches for them. */
export function checkpointRecord(name: string, path = `${IMAGES}/${VM}.qcow2`): CheckpointRecord {
  return { name, sourceUuid: SOURCE_UUID, fingerprints: { [path]: '67108864:1700000000' } };
}

export function digest(hex: string): FileDigest {
  return { algorithm: 'sha256', hex, tool: 'python3' };
}

/** Digests of the two hosts: equal unless the destination's is given. */
export function digests(
  source = 'a1'.repeat(32),
  destination = source,
): { source: FileDigest; destination: FileDigest } {
  return { source: digest(source), destination: digest(destination) };
}
export const MISMATCH = digests('a1'.repeat(32), 'b2'.repeat(32));

/**
 * What syncVM calls to change its target, by what the step does. Sync has activities of its
 * own for these (a run started before them calls the clone's: removeClone, finalizeFiles,
 * defineClone with redefine); the tests name them through here, so a rename is one edit.
 */
export const syncTargetStep = {
  removeAddedDisks: 'removeFiles',
  renameAddedDisks: 'renameAddedDisks',
  relinkBackingChains: 'relinkBackingChains',
  redefineTarget: 'redefineTarget',
} as const satisfies Record<string, ActivityName>;

/** The first 64 KiB block of a range: what a delta finds changed. */
function firstBlock(range: Extent): Extent[] {
  return [{ start: range.start, length: Math.min(64 * 1024, range.length) }];
}

/** Healthy hosts: every step works, half of each file is data, a delta finds one changed block. */
export const healthyHosts: DefaultActivityScripts = {
  acquireDestinationLock: ({ name }) => ({ lockPath: `/var/lib/kvm-clone/locks/${name}` }),
  releaseDestinationLock: () => undefined,
  inspectSource: () => sourceInspection(),
  checkDestination: () => destinationCheck(),
  inspectTarget: () => targetInspection(),
  mapFiles: ({ files }) =>
    files.map((file) => ({
      dataWindows: [{ start: 0, length: file.fileSize, dataBytes: file.fileSize / 2 }],
      dataBytes: file.fileSize / 2,
    })),
  prepareDisks: ({ disks }) => ({ created: disks.map((disk) => disk.path) }),
  resizeFiles: () => undefined,
  freezeSource: ({ quiesce }) => ({
    consistency: quiesce ? 'quiesced' : 'crash-consistent',
    frozen: true,
    warnings: [],
  }),
  transferRange: ({ range }) => ({ bytesSent: range.dataBytes, dataBytes: range.dataBytes, bytesResumed: 0 }),
  verifyRange: () => digests(),
  verifyFile: () => digests(),
  syncRange: ({ range, mode, tracked }) => {
    const written = mode === 'full' ? [range] : mode === 'tracked' ? (tracked?.changed ?? []) : firstBlock(range);
    const bytesSent = written.reduce((sum, extent) => sum + extent.length, 0);
    return {
      bytesCompared: mode === 'full' ? 0 : range.length,
      bytesSent,
      blocksChanged: Math.ceil(bytesSent / (64 * 1024)),
      bytesUnchanged: range.length - bytesSent,
      written,
    };
  },
  createCheckpoint: () => undefined,
  trackChanges: ({ disks }) => ({
    disks: Object.fromEntries(
      disks.map((disk) => [disk.target, { changed: [{ start: 0, length: 128 * 1024 }], compare: [] }]),
    ),
  }),
  recordCheckpoint: () => undefined,
  removeCheckpoints: () => [],
  mergeSource: () => 'merged-live',
  // The source as inspected, still shut off (a live test scripts it running).
  recheckSource: () => ({ state: 'shut off', uuid: SOURCE_UUID }),
  finalizeFiles: () => undefined,
  defineClone: () => ({ xml: '<domain/>' }),
  removeClone: () => undefined,
  removeDefinedClone: () => undefined,
  pauseSource: () => ({ pausedAt: 1_000_000, guestFrozen: false, warnings: [] }),
  resumeSource: () => undefined,
  startMigratedVm: () => ({ startedAt: 1_002_500 }),
  stopMigratedVm: () => undefined,
  retireSource: () => undefined,
  liveMigrate: () => ({
    downtimeSeconds: 0.25,
    bytesTransferred: 96 * MiB,
    diskBytes: 64 * MiB,
    memoryBytes: 32 * MiB,
    seconds: 3,
  }),
  removeRenamedFiles: () => undefined,
  removeFiles: () => undefined,
  renameAddedDisks: () => undefined,
  relinkBackingChains: () => undefined,
  redefineTarget: () => undefined,
  setAsideDomain: () => ({ setAside: true, wasRunning: false }),
  restoreDomain: () => undefined,
  discardReplacedDomain: () => undefined,
  notify: () => ({ status: 200 }),
};
