import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { Activities } from '../../../src/activities';
import { backupSocketPath } from '../../../src/hosts/checkpoints';
import { guestWriterScript, waitForWriter } from '../../helpers/guest-writer';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));

/** VMs whose next backup export cannot bind its socket, and whose next checkpoint names a raw disk. */
const blockedSockets = new Set<string>();
const rawCheckpoint = new Set<string>();
const blockingDirs: string[] = [];

/**
 * Faults at the real boundary, made by the host's own libvirt and qemu: a directory where
 * the backup's NBD socket must go, and a checkpoint asked for on a raw disk, which libvirt
 * refuses.
 */
const testEnvironment = useTestEnvironment(lab.aliases(), {
  decorateActivities: (activities: Activities): Activities => ({
    ...activities,
    async trackChanges(input) {
      if (blockedSockets.has(input.vmName)) {
        const socket = backupSocketPath(path.dirname(input.disks[0]!.path), input.tag);
        await mkdir(socket, { recursive: true });
        blockingDirs.push(socket);
      }
      return activities.trackChanges(input);
    },
    async createCheckpoint(input) {
      return activities.createCheckpoint(
        rawCheckpoint.has(input.vmName) ? { ...input, bitmapTargets: [...input.bitmapTargets, 'vdb'] } : input,
      );
    },
  }),
});

describe('syncVM with checkpoints when libvirt cannot help', () => {
  it('hashes, says why, and still succeeds: checkpoint gone, bitmap unreadable, checkpoint refused', async () => {
    const name = uniqueVmName('cpfault');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript });
    await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, newName: name });
    const sync = () => testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: name, checkpoint: true });
    const rootOf = (result: Awaited<ReturnType<typeof sync>>) => result.files.find((file) => file.target === 'vda')!;
    await lab.virsh('a', 'start', '--domain', name);
    await waitForWriter(`${vm.dir}/console.log`);
    try {
      const first = await sync();
      expect(first.checkpoint).toBeDefined();

      // Someone deleted the checkpoint on the source.
      await lab.virsh('a', 'checkpoint-delete', '--domain', name, '--checkpointname', first.checkpoint!);
      const gone = await sync();
      expect(gone.warnings.join('\n')).toContain(`checkpoint ${first.checkpoint} is gone`);
      expect(rootOf(gone).changeTracking).toBe('block-hash');
      expect(gone.checkpoint).toBeDefined();
      expect(rootOf(gone).digest?.destination).toBe(rootOf(gone).digest?.source);

      // The backup export cannot start: the bitmap cannot be read.
      blockedSockets.add(name);
      const unreadable = await sync();
      blockedSockets.delete(name);
      expect(unreadable.warnings.join('\n')).toMatch(
        /could not read checkpoint \S+'s bitmaps \(.+\); changed blocks are found by hashing/,
      );
      expect(rootOf(unreadable).changeTracking).toBe('block-hash');
      expect(unreadable.checkpoint).toBeDefined();

      // libvirt refuses the new checkpoint: this sync still uses the last one, and leaves none.
      rawCheckpoint.add(name);
      const refused = await sync();
      rawCheckpoint.delete(name);
      expect(refused.warnings.join('\n')).toContain('could not create a checkpoint for the next sync');
      expect(rootOf(refused).changeTracking).toBe('checkpoint');
      expect(refused.checkpoint).toBeUndefined();
      expect((await lab.virsh('a', 'checkpoint-list', '--domain', name, '--name')).trim()).toBe(unreadable.checkpoint);
    } finally {
      blockedSockets.delete(name);
      rawCheckpoint.delete(name);
      for (const dir of blockingDirs.splice(0)) await rm(dir, { force: true, recursive: true });
      await lab.virsh('a', 'destroy', '--domain', name);
    }
  });
});
