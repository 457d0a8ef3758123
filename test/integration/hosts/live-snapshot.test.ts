import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { LiveSnapshot, type FrozenDisk } from '../../../src/hosts/live-snapshot';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { guestWriterScript, writeStopFlag } from '../../helpers/guest-writer';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
const sessions: SshSession[] = [];
const started: string[] = [];

afterAll(async () => {
  for (const name of started)
    if ((await lab.domainState('a', name)) === 'running') await lab.virsh('a', 'destroy', '--domain', name);
  for (const session of sessions) session.close();
});

async function sessionToA(): Promise<SshSession> {
  const session = await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
  sessions.push(session);
  return session;
}

function frozenDisks(vm: LabVm): FrozenDisk[] {
  return [
    { target: 'vda', basePath: `${vm.dir}/root.qcow2`, overlayPath: `${vm.dir}/root.qcow2.kvm-clone-test.overlay` },
    { target: 'vdb', basePath: `${vm.dir}/data.img`, overlayPath: `${vm.dir}/data.img.kvm-clone-test.overlay` },
  ];
}

async function runningVm(prefix: string): Promise<{ vm: LabVm; originalXml: string }> {
  const name = uniqueVmName(prefix);
  const vm = await lab.makeVm('a', name, { runScript: guestWriterScript });
  const originalXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
  await lab.virsh('a', 'start', '--domain', name);
  started.push(name);
  return { vm, originalXml };
}

async function diskSources(name: string, inactive: boolean): Promise<(string | undefined)[]> {
  const xml = await lab.virsh('a', 'dumpxml', ...(inactive ? ['--inactive'] : []), '--domain', name);
  return parseDomainXml(xml).disks.map((disk) => disk.sourcePath);
}

async function overlaysIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((file) => file.endsWith('.overlay'));
}

describe('live snapshots of a running lab VM', () => {
  it('freezes the disks onto overlays and merges them back live; both steps can run twice', async () => {
    const { vm } = await runningVm('freeze');
    const snapshot = new LiveSnapshot(await sessionToA(), vm.name);
    const disks = frozenDisks(vm);

    await snapshot.freeze(disks, [], false);
    await snapshot.freeze(disks, [], false);
    expect(await diskSources(vm.name, false)).toEqual(disks.map((disk) => disk.overlayPath));
    expect(await snapshot.guestAgentResponds()).toBe(false);

    expect(await snapshot.mergeBack(disks, '')).toBe('merged-live');
    expect(await snapshot.mergeBack(disks, '')).toBe('nothing-to-merge');
    expect(await diskSources(vm.name, false)).toEqual(disks.map((disk) => disk.basePath));
    expect(await diskSources(vm.name, true)).toEqual(disks.map((disk) => disk.basePath));
    expect(await overlaysIn(vm.dir)).toEqual([]);
    expect(await lab.domainState('a', vm.name)).toBe('running');
  });

  it('a retry follows the block commit a lost attempt started, pivots it, and reports progress', async () => {
    const { vm } = await runningVm('resume');
    const snapshot = new LiveSnapshot(await sessionToA(), vm.name);
    const disks = frozenDisks(vm);
    await snapshot.freeze(disks, [], false);
    // What a lost attempt leaves: the commit of vda running (ready to pivot), nobody following it.
    await lab.virsh('a', 'blockcommit', '--domain', vm.name, 'vda', '--active');
    const progress: { target: string; percent?: number }[] = [];
    expect(await snapshot.mergeBack(disks, '', { onProgress: (each) => progress.push(each) })).toBe('merged-live');
    expect(await diskSources(vm.name, false)).toEqual(disks.map((disk) => disk.basePath));
    expect(await overlaysIn(vm.dir)).toEqual([]);
    expect(progress.filter((each) => each.target === 'vda').length).toBeGreaterThan(0);
    expect(progress.every((each) => each.percent === undefined || (each.percent >= 0 && each.percent <= 100))).toBe(
      true,
    );
  });

  it('merges offline and restores the definition when the VM stopped while frozen', async () => {
    const { vm, originalXml } = await runningVm('stopped');
    const snapshot = new LiveSnapshot(await sessionToA(), vm.name);
    const disks = frozenDisks(vm);
    await snapshot.freeze(disks, [], false);
    await lab.virsh('a', 'destroy', '--domain', vm.name);
    expect(await diskSources(vm.name, true)).toEqual(disks.map((disk) => disk.overlayPath));

    expect(await snapshot.mergeBack(disks, originalXml)).toBe('merged-offline');
    expect(await diskSources(vm.name, true)).toEqual(disks.map((disk) => disk.basePath));
    expect(await overlaysIn(vm.dir)).toEqual([]);
    // The merged disks still boot with their markers.
    await writeStopFlag(`${vm.dir}/data.img`);
    const console = await lab.bootAndReadConsole('a', vm.name, `${vm.dir}/console.log`);
    expect(console).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
  });

  it('a failed snapshot reports code 1009 and leaves the domain on its own disks', async () => {
    const { vm } = await runningVm('badsnap');
    const snapshot = new LiveSnapshot(await sessionToA(), vm.name);
    const disks = frozenDisks(vm).map((disk) => ({
      ...disk,
      overlayPath: `/nonexistent-dir/${path.basename(disk.overlayPath)}`,
    }));
    await expect(snapshot.freeze(disks, [], false)).rejects.toMatchObject({ code: 1009 });
    expect(await diskSources(vm.name, false)).toEqual(frozenDisks(vm).map((disk) => disk.basePath));
  });
});
