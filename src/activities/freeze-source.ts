import type { HostRef } from '../domain/schemas/host';
import { LiveSnapshot, type FrozenDisk, type SnapshotConsistency } from '../hosts/live-snapshot';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface FreezeSourceInput {
  source: HostRef;
  vmName: string;
  disks: FrozenDisk[];
  /** Try to freeze the guest's filesystems through its agent first. */
  quiesce: boolean;
}

export interface FreezeOutcome {
  /** 'offline' when the domain stopped before the snapshot and needs none. */
  consistency: SnapshotConsistency | 'offline';
  frozen: boolean;
  warnings: string[];
  /**
   * Each frozen file's size once frozen, by path. The snapshot can grow a base: qemu
   * stores the disk's persistent dirty bitmaps into it as it turns read-only.
   */
  sizes?: Record<string, number>;
}

export function freezeSource(deps: ActivityDeps) {
  /**
   * Holds a running source's disks still for the copy: an external disk-only snapshot
   * sends the guest's writes to overlays while the clone reads the bases.
   */
  return async function freezeSource(input: FreezeSourceInput): Promise<FreezeOutcome> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const snapshot = new LiveSnapshot(session, input.vmName);
        const state = await snapshot.state();
        if (state !== 'running' && state !== 'paused') return { consistency: 'offline', frozen: false, warnings: [] };
        const frozenTargets = new Set(input.disks.map((disk) => disk.target));
        const otherTargets = [...(await snapshot.currentSources()).keys()].filter(
          (target) => !frozenTargets.has(target),
        );
        const frozen = async (consistency: SnapshotConsistency, warnings: string[]): Promise<FreezeOutcome> => {
          const disk = new RemoteDisk(session);
          const sizes: Record<string, number> = {};
          for (const { basePath } of input.disks) {
            const size = await disk.fileSize(basePath);
            if (size !== undefined) sizes[basePath] = size;
          }
          return { consistency, frozen: true, warnings, sizes };
        };
        if (input.quiesce) {
          try {
            await snapshot.freeze(input.disks, otherTargets, true);
            return frozen('quiesced', []);
          } catch (error) {
            const reason = error instanceof Error ? error.message : String(error);
            await snapshot.freeze(input.disks, otherTargets, false);
            return frozen('crash-consistent', [
              `the guest agent could not freeze filesystems (${reason}); the copy is crash-consistent`,
            ]);
          }
        }
        await snapshot.freeze(input.disks, otherTargets, false);
        return frozen('crash-consistent', []);
      }),
    );
  };
}
