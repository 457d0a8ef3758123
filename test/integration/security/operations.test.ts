/**
 * Attacks on how operations treat the destination: a force clone that fails after the old
 * VM stepped aside, two clones racing to one new name, a domain slipped in under the new
 * name before the define, and a cleanup that fails. Faults are injected at the real
 * activity boundary; everything else runs on the lab.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, inject, it } from 'vitest';
import type { Activities } from '../../../src/activities';
import type { CloneResult } from '../../../src/domain/clone-result';
import { destinationDiskFileName } from '../../../src/domain/clone-plan';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import type { cloneVM } from '../../../src/workflows';
import { failureInfo } from '../../../src/failures';
import { guestWriterScript, waitForWriter } from '../../helpers/guest-writer';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { sha256OfFile } from '../../helpers/local-files';
import { useTestEnvironment, waitForCopying } from '../../helpers/temporal';
import { testLogger } from '../../helpers/test-log';

const lab = new Lab(inject('labFile'));
const storageB = () => lab.host('b').storageDir;

/**
 * New names whose define succeeds and then fails (a start that fails, say): the clone must unwind after the old VM
 * stepped aside.
 */
const failAfterDefine = new Set<string>();
/** New names under which a foreign domain appears on b right before the define. */
const foreignBeforeDefine = new Set<string>();
/** VM names whose clone fails at finalizeFiles and whose cleanup (removeClone) fails too. */
const failingCleanup = new Set<string>();
/**
 * Running VMs whose merge back fails, after the copy and again in cleanup; the merge's input, kept to repair the lab
 * afterwards.
 */
const failingMerge = new Set<string>();
const refusedMerges = new Map<string, Parameters<Activities['mergeSource']>[0]>();
let realActivities: Activities | undefined;
/** Sync targets that another domain replaces right before the sync redefines them. */
const replacedBeforeRedefine = new Set<string>();

function injected(what: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'LIBVIRT_ERROR',
    message: `injected: ${what}`,
    nonRetryable: true,
    details: [{ code: ErrorCode.LIBVIRT_ERROR }],
  });
}

/** A domain of someone else's: no disks, never started. */
function foreignDomainXml(name: string): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>\n`;
}

const testEnvironment = useTestEnvironment(lab.aliases(), {
  decorateActivities: (activities: Activities): Activities => {
    realActivities = activities;
    /** Puts another domain under the sync target's name, as someone could between the inspection and the redefine. */
    const replaceTarget = async (name: string) => {
      await lab.virsh('b', 'undefine', '--domain', name);
      await lab.sshAs('b', `virsh -q -c ${lab.host('b').libvirtUri} define --file /dev/stdin`, foreignDomainXml(name));
    };
    return {
      ...activities,
      async mergeSource(input) {
        if (failingMerge.has(input.vmName)) {
          refusedMerges.set(input.vmName, input);
          throw injected('mergeSource');
        }
        return activities.mergeSource(input);
      },
      async defineClone(input) {
        const name = input.rewrite.newName;
        if (input.redefine && replacedBeforeRedefine.has(name)) await replaceTarget(name);
        if (foreignBeforeDefine.has(name))
          await lab.sshAs(
            'b',
            `virsh -q -c ${lab.host('b').libvirtUri} define --file /dev/stdin`,
            foreignDomainXml(name),
          );
        const result = await activities.defineClone(input);
        if (failAfterDefine.has(name)) throw injected(`starting '${name}' failed`);
        return result;
      },
      async redefineTarget(input) {
        if (replacedBeforeRedefine.has(input.rewrite.newName)) await replaceTarget(input.rewrite.newName);
        return activities.redefineTarget(input);
      },
      async finalizeFiles(input) {
        if (input.renames.some((rename) => [...failingCleanup].some((name) => rename.to.includes(`/${name}_clone-`))))
          throw injected('finalizeFiles');
        return activities.finalizeFiles(input);
      },
      async removeClone(input) {
        if (input.paths.some((file) => [...failingCleanup].some((name) => file.includes(`/${name}_clone-`))))
          throw injected('removeClone');
        return activities.removeClone(input);
      },
    };
  },
});

async function domainUuid(name: string): Promise<string> {
  return (await lab.virsh('b', 'domuuid', '--domain', name)).trim();
}

async function diskPaths(name: string): Promise<string[]> {
  return parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', name))
    .disks.map((disk) => disk.sourcePath)
    .filter((path): path is string => path !== undefined);
}

async function filesOnB(prefix: string): Promise<string[]> {
  return (await readdir(storageB())).filter((file) => file.startsWith(prefix));
}

describe('operations on the destination', () => {
  it('attack: force whose define fails brings the old VM back, defined, with its disks intact, and running if it ran', async () => {
    const name = uniqueVmName('forceback');
    const newName = `${name}_clone`;
    await lab.makeVm('a', name, { runScript: guestWriterScript });
    const first = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });
    const uuid = await domainUuid(newName);
    const paths = await diskPaths(newName);
    const digests = await Promise.all(first.files.map((file) => sha256OfFile(file.destinationPath)));
    failAfterDefine.add(newName);
    try {
      // Shut off: the old VM is defined again, with the same UUID and byte-identical disks.
      await expect(
        testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, force: true }),
      ).rejects.toMatchObject({
        code: ErrorCode.LIBVIRT_ERROR,
        message: expect.stringContaining('injected'),
      });
      expect(await lab.domainState('b', newName)).toBe('shut off');
      expect(await domainUuid(newName)).toBe(uuid);
      expect(await diskPaths(newName)).toEqual(paths);
      expect(await Promise.all(first.files.map((file) => sha256OfFile(file.destinationPath)))).toEqual(digests);
      expect((await filesOnB(newName)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);

      // Running: it runs again afterwards.
      await lab.virsh('b', 'start', '--domain', newName);
      await expect(
        testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, force: true }),
      ).rejects.toMatchObject({ code: ErrorCode.LIBVIRT_ERROR });
      expect(await lab.domainState('b', newName)).toBe('running');
      expect(await domainUuid(newName)).toBe(uuid);
      expect(await diskPaths(newName)).toEqual(paths);
      for (const path of paths) expect(await sha256OfFile(path)).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      failAfterDefine.delete(newName);
      await lab.virsh('b', 'destroy', '--domain', newName).catch(() => undefined);
    }

    // And with nothing failing, force still replaces it: a new UUID, nothing set aside left over.
    const replaced = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, force: true });
    expect(replaced.replaced).toBe(newName);
    expect(await domainUuid(newName)).not.toBe(uuid);
    expect((await filesOnB(newName)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
  });

  it('attack: two clones to one new name started at once with their own workflow ids (as the Web UI does): one wins, the other gets 1004, the winner is intact', async () => {
    const first = uniqueVmName('racea');
    const second = uniqueVmName('raceb');
    const newName = uniqueVmName('contested');
    const vms = await Promise.all([lab.makeVm('a', first, { fillMib: 32 }), lab.makeVm('a', second, { fillMib: 32 })]);
    const start = (vmName: string) =>
      testEnvironment().client.temporal.workflow.start<typeof cloneVM>('cloneVM', {
        taskQueue: testEnvironment().taskQueue,
        workflowId: `ui-${uniqueVmName('race')}`,
        args: [{ source: 'a', destination: 'b', vmName, newName }],
      });
    const handles = await Promise.all([start(first), start(second)]);
    const outcomes = await Promise.allSettled(handles.map((handle) => handle.result()));

    const won = outcomes.findIndex((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.findIndex((outcome) => outcome.status === 'rejected');
    expect(won).toBeGreaterThanOrEqual(0);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(failureInfo((outcomes[lost] as PromiseRejectedResult).reason).code).toBe(ErrorCode.VM_EXISTS_ERROR);
    const winner = (outcomes[won] as PromiseFulfilledResult<CloneResult>).value;
    const source = vms[won]!;
    expect(winner.vmName).toBe(source.name);
    expect(await sha256OfFile(winner.files.find((file) => file.target === 'vdb')!.destinationPath)).toBe(
      await sha256OfFile(source.dataPath),
    );
    expect(await sha256OfFile(winner.files.find((file) => file.target === 'vda')!.destinationPath)).toBe(
      await sha256OfFile(source.rootPath),
    );
    expect(await diskPaths(newName)).toEqual(
      winner.files.filter((file) => file.role === 'disk').map((file) => file.destinationPath),
    );
    expect((await filesOnB(newName)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
  });

  it('attack: a domain that appears under the new name before the define is refused with 1004, not adopted, and left alone', async () => {
    const name = uniqueVmName('adopt');
    const newName = `${name}_clone`;
    await lab.makeVm('a', name);
    foreignBeforeDefine.add(newName);
    try {
      await expect(
        testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name }),
      ).rejects.toMatchObject({
        code: ErrorCode.VM_EXISTS_ERROR,
        message: expect.stringContaining('did not define'),
      });
      // The foreign domain survives the clone's cleanup, untouched; the clone's files are gone.
      expect(await lab.domainState('b', newName)).toBe('shut off');
      expect(await diskPaths(newName)).toEqual([]);
      expect(await filesOnB(`${newName}-`)).toEqual([]);
    } finally {
      foreignBeforeDefine.delete(newName);
      await lab.virsh('b', 'undefine', '--domain', newName).catch(() => undefined);
    }
  });

  it('attack: a cleanup step that fails is not swallowed: the failure is 1200 and names the step and the files it left', async () => {
    const name = uniqueVmName('leftover');
    await lab.makeVm('a', name);
    failingCleanup.add(name);
    try {
      const failure = await testEnvironment()
        .client.clone({ source: 'a', destination: 'b', vmName: name })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toMatchObject({
        code: ErrorCode.CLONE_ERROR,
        message: expect.stringMatching(
          /^injected: finalizeFiles; cleanup failed: remove partial copies \(injected: removeClone\); partial copies may remain on b: .*\.kvm-clone-\w+\.part/,
        ),
      });
      const details = (failureInfoDetails(failure) ?? {}) as {
        cause?: { code: number };
        cleanupFailures?: { step: string; left?: string }[];
      };
      expect(details.cause?.code).toBe(ErrorCode.LIBVIRT_ERROR);
      expect(details.cleanupFailures?.map((step) => step.step)).toEqual(['remove partial copies']);
      // What it says is left is indeed there.
      const left = await filesOnB(`${name}_clone-`);
      expect(left.length).toBeGreaterThan(0);
      for (const file of left) expect(details.cleanupFailures?.[0]?.left).toContain(file);
    } finally {
      failingCleanup.delete(name);
      for (const file of await filesOnB(`${name}_clone-`)) await lab.sshAs('b', `rm -f -- '${storageB()}/${file}'`);
    }
  });
});

describe('the destination lock', () => {
  it('terminate runs no cleanup: the partial copies stay, and the lock left behind is taken over once Temporal says its holder is closed', async () => {
    const name = uniqueVmName('terminated');
    const newName = `${name}_clone`;
    await lab.makeVm('a', name, { dataSize: '2G', fillMib: 384 });
    const client = testEnvironment().client;
    const handle = await client.startClone({ source: 'a', destination: 'b', vmName: name, parallel: 1 });
    await waitForCopying(client, handle.workflowId);
    await handle.terminate('attack test: terminate runs no cleanup');
    const locks = `${storageB()}/.kvm-clone-locks`;
    expect((await readdir(locks)).filter((lock) => lock.startsWith(newName))).toHaveLength(1);
    const stranded = (await filesOnB(`${newName}-`)).filter((file) => file.endsWith('.part'));
    expect(stranded.length).toBeGreaterThan(0);
    try {
      // The same operation id, a new run: the old run is closed, so its lock is stale.
      const result = await client.clone({ source: 'a', destination: 'b', vmName: name });
      expect(result.success).toBe(true);
      expect((await readdir(locks)).filter((lock) => lock.startsWith(newName))).toEqual([]);
    } finally {
      for (const file of stranded) await lab.sshAs('b', `rm -f -- '${storageB()}/${file}'`);
    }
  });
});

describe('syncs into a target', () => {
  /** A VM on host a and its copy on host b under the same name. */
  async function standby(prefix: string): Promise<{ vm: LabVm; copies: CloneResult['files'] }> {
    const name = uniqueVmName(prefix);
    const vm = await lab.makeVm('a', name);
    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, newName: name });
    return { vm, copies: result.files };
  }

  it('attack: a disk added on the source whose file name is taken on the destination leaves that file as it was (1004), and the sync removes only what it created', async () => {
    const { vm, copies } = await standby('squat');
    const added = `${vm.dir}/extra.img`;
    await lab.sshAs(
      'a',
      `truncate -s 16M '${added}' && printf KVMCLONE-EXTRA | dd of='${added}' conv=notrunc status=none`,
    );
    await lab.attachRawDisk('a', vm.name, added, 'vdc');
    const home = path.dirname(copies[0]!.destinationPath);
    const taken = `${home}/${destinationDiskFileName(vm.name, { target: 'vdc', sourcePath: added })}`;
    await lab.sshAs('b', `printf 'SOMEONE ELSE' > '${taken}'`);
    const before = await sha256OfFile(taken);

    await expect(
      testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name }),
    ).rejects.toMatchObject({ code: ErrorCode.VM_EXISTS_ERROR });
    expect(await sha256OfFile(taken)).toBe(before);
    expect(
      (await readdir(home)).filter((file) => file.startsWith(`${vm.name}-`) && file.includes('.kvm-clone-')),
    ).toEqual([]);
    expect(
      parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', vm.name)).disks.map(
        (disk) => disk.target,
      ),
    ).toEqual(['vda', 'vdb']);
    await lab.sshAs('b', `rm -f -- '${taken}'`);
  });

  it('attack: a target replaced by another domain of the same name before the redefine is refused with 1004 and left alone', async () => {
    const { vm } = await standby('swapped');
    replacedBeforeRedefine.add(vm.name);
    try {
      await expect(
        testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: vm.name }),
      ).rejects.toMatchObject({
        code: ErrorCode.VM_EXISTS_ERROR,
        message: expect.stringContaining('no longer the target this sync inspected'),
      });
      expect(await diskPaths(vm.name)).toEqual([]);
    } finally {
      replacedBeforeRedefine.delete(vm.name);
      await lab.virsh('b', 'undefine', '--domain', vm.name).catch(() => undefined);
    }
  });
});

describe('cleanup of a running source', () => {
  it('attack: a merge back that fails is reported as 1200 naming the overlays the source still runs on, not as a clean failure', async () => {
    const name = uniqueVmName('overlay');
    const vm = await lab.makeVm('a', name, { runScript: guestWriterScript });
    await lab.virsh('a', 'start', '--domain', name);
    await waitForWriter(`${vm.dir}/console.log`);
    failingMerge.add(name);
    try {
      const failure = await testEnvironment()
        .client.clone({ source: 'a', destination: 'b', vmName: name })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      const live = parseDomainXml(await lab.virsh('a', 'dumpxml', '--domain', name));
      const overlays = live.disks.map((disk) => disk.sourcePath!).filter((path) => path.includes('.kvm-clone-'));
      expect(overlays.length).toBeGreaterThan(0);
      expect(failure).toMatchObject({
        code: ErrorCode.CLONE_ERROR,
        message: expect.stringContaining('cleanup failed: merge the source back (injected: mergeSource)'),
      });
      for (const overlay of overlays) expect((failure as Error).message).toContain(overlay);
      expect((failure as Error).message).toContain(`'${name}' on a may still run on its overlays`);
    } finally {
      failingMerge.delete(name);
      const input = refusedMerges.get(name);
      if (input && realActivities)
        await new MockActivityEnvironment(undefined, { logger: testLogger() }).run(realActivities.mergeSource, input);
      await lab.virsh('a', 'destroy', '--domain', name).catch(() => undefined);
    }
    expect((await readdir(vm.dir)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
  });
});

/** The details of the innermost application failure carrying a code, as the workflow wrote them. */
function failureInfoDetails(error: unknown): unknown {
  let found: unknown;
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (
      current instanceof ApplicationFailure &&
      (current.details?.[0] as { code?: unknown } | undefined)?.code !== undefined
    )
      found ??= current.details?.[0];
  }
  return found;
}
