import type { Consistency } from '../domain/clone-result';
import { isLiveDisk, liveOverlayPath, type SourceFile } from '../domain/copied-file';
import type { FrozenDisk } from '../hosts/live-snapshot';
import { hostCalls, mergeBacks } from './activity-proxies';
import { hostLabel } from './host-label';
import type { Operation, OperationOptions } from './operation';

/** The source VM as inspected. */
export interface SourceVm {
  running: boolean;
  /** Its files: the disks' top images are the ones a snapshot holds still. */
  files: readonly SourceFile[];
  inactiveXml: string;
  guestAgent: boolean;
}

/** The source VM as its inspection found it, with the files the operation reads. */
export function sourceVm(
  inspection: { state: string; inactiveXml: string; guestAgent: boolean },
  files: readonly SourceFile[],
): SourceVm {
  return {
    running: inspection.state !== 'shut off',
    files,
    inactiveXml: inspection.inactiveXml,
    guestAgent: inspection.guestAgent,
  };
}

/** How the source held still while the body read it. */
export interface FrozenSource {
  consistency: Consistency;
  /** Each file's size at the freeze, by source path, where the freeze measured it. */
  sizes?: Record<string, number>;
}

/**
 * Runs `body` while the source's disks hold still. A running source is snapshotted: its
 * disks' writes go to overlays until the body is done, then merge back. The merge-back is
 * an undo step from before the freeze, so a failure at any point after leaves the source
 * on its own disks again. `beforeFreeze` runs first, while the source still writes to its
 * disks. A shut-off source holds still by itself: the body runs at once, 'offline'.
 */
export async function withFrozenSource<T>(
  operation: Operation<OperationOptions>,
  vm: SourceVm,
  body: (frozen: FrozenSource) => Promise<T>,
  beforeFreeze?: () => Promise<void>,
): Promise<T> {
  if (!vm.running) return body({ consistency: 'offline' });
  const { source, vmName } = operation.options;
  operation.progress.phase = 'snapshotting';
  await beforeFreeze?.();
  const disks: FrozenDisk[] = vm.files.filter(isLiveDisk).map((file) => ({
    target: file.target,
    basePath: file.sourcePath,
    overlayPath: liveOverlayPath(file, operation.tag),
  }));
  const mergeBack = () =>
    mergeBacks.mergeSource({ source, vmName, disks, originalXml: vm.inactiveXml }).then(() => undefined);
  const dropMergeBack = operation.compensations.add(
    'merge the source back',
    mergeBack,
    `'${vmName}' on ${hostLabel(source)} may still run on its overlays ${disks.map((disk) => disk.overlayPath).join(', ')}`,
  );
  const frozen = await hostCalls.freezeSource({ source, vmName, disks, quiesce: vm.guestAgent });
  operation.warnings.push(...frozen.warnings);
  const result = await body(frozen);
  operation.progress.phase = 'merging';
  await mergeBack();
  dropMergeBack();
  return result;
}
