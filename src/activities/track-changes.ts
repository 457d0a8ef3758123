import { trackedFileChanges, type TrackedFileChanges } from '../domain/change-tracking';
import { directoryOf } from '../domain/paths';
import { parseDomainXml } from '../domain/domain-xml';
import type { HostRef } from '../domain/schemas/host';
import { Checkpoints } from '../hosts/checkpoints';
import { Libvirt } from '../hosts/libvirt';
import { RemoteDisk } from '../hosts/remote-disk';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface TrackChangesInput {
  source: HostRef;
  vmName: string;
  /** The checkpoint the destination's disks equal. */
  since: string;
  /** Each tracked disk's frozen image: the file the sync reads. */
  disks: { target: string; path: string; fileSize: number }[];
  blockSize: number;
  /** Names the backup job's socket and scratch files. */
  tag: string;
}

export type TrackedChanges = { disks: Record<string, TrackedFileChanges> } | { unavailable: string };

export function trackChanges(deps: ActivityDeps) {
  /**
   * Which file ranges of each disk changed since checkpoint `since`, from the source's
   * dirty bitmaps, as ranges to send and ranges to compare. `unavailable` says why the
   * bitmaps cannot answer (the checkpoint is gone, or the domain stopped), so the sync
   * hashes instead.
   */
  return async function trackChanges(input: TrackChangesInput): Promise<TrackedChanges> {
    return activityBody(() =>
      withHost(deps, input.source, async (session) => {
        const checkpoints = new Checkpoints(session, input.vmName);
        if (!(await checkpoints.names()).includes(input.since))
          return { unavailable: `checkpoint ${input.since} is gone from '${input.vmName}'` };
        const libvirt = new Libvirt(session);
        const state = await libvirt.domainState(input.vmName);
        if (state !== 'running' && state !== 'paused')
          return { unavailable: `'${input.vmName}' is ${state ?? 'gone'}, and bitmaps are read from a running domain` };
        const allTargets = parseDomainXml(await libvirt.dumpXml(input.vmName, { inactive: false })).disks.map(
          (disk) => disk.target,
        );
        const first = input.disks[0]?.path ?? session.host.storageDir;
        const workDir = directoryOf(first);
        const dirty = await checkpoints.dirtyExtents(
          input.since,
          input.disks.map((disk) => disk.target),
          allTargets,
          workDir,
          input.tag,
        );
        const disk = new RemoteDisk(session);
        const changes: Record<string, TrackedFileChanges> = {};
        for (const tracked of input.disks) {
          changes[tracked.target] = trackedFileChanges(
            dirty.get(tracked.target) ?? [],
            await disk.imageMap(tracked.path),
            tracked.fileSize,
            input.blockSize,
          );
        }
        return { disks: changes };
      }),
    );
  };
}
