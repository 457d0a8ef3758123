/**
 * Part of the preflight (1005): a clone that is to start is refused when the destination has less memory or fewer
 * CPUs than the domain asks for, before any disk is made there; one that is not started is made, with a warning.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());
/** How messages name host b, as a pattern. */
const WHERE = 'kvmlab-b@\\[127\\.0\\.0\\.3\\]:2222';

/** Files of a clone in host b's storage directory. */
async function filesOnB(newName: string): Promise<string[]> {
  return (await readdir(lab.host('b').storageDir)).filter((file) => file.startsWith(newName));
}

/** Redefines a lab VM on host a from its own XML, edited. */
async function redefine(vm: LabVm, edit: (xml: string) => string): Promise<void> {
  const xml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name);
  await lab.sshAs('a', 'virsh -q -c qemu:///session define --file /dev/stdin', edit(xml));
}

describe('cloneVM and the resources of the destination', () => {
  it('refuses with 1005 to start a clone that asks 64 TiB of memory and more vCPUs than the machine has, leaving nothing; without start it is made, with warnings', async () => {
    const name = uniqueVmName('huge');
    const vm = await lab.makeVm('a', name);
    // Both lab hosts are this machine: no memory or CPU count of it comes near.
    const vcpus = Number(/CPU\(s\):\s*(\d+)/.exec(await lab.virsh('b', 'nodeinfo'))![1]) + 1;
    await redefine(vm, (xml) =>
      xml
        .replace(/<memory unit='KiB'>\d+<\/memory>/, "<memory unit='TiB'>64</memory>")
        .replace(/<currentMemory unit='KiB'>\d+<\/currentMemory>/, "<currentMemory unit='TiB'>64</currentMemory>")
        .replace(/<vcpu([^>]*)>\d+<\/vcpu>/, `<vcpu$1>${vcpus}</vcpu>`),
    );
    expect(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name)).toContain(
      "<memory unit='KiB'>68719476736</memory>",
    );
    const newName = `${name}_clone`;
    const clone = { source: 'a', destination: 'b', vmName: name };

    const refusal = await testEnvironment()
      .client.clone({ ...clone, start: true })
      .catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: ErrorCode.INSUFFICIENT_RESOURCES_ERROR });
    expect((refusal as Error).message).toMatch(
      new RegExp(
        `^'${newName}' cannot start on ${WHERE}: it asks for 64\\.0 TiB of memory and the host has [\\d.]+ GiB available; it asks for ${vcpus} vCPUs and the host has ${vcpus - 1} CPUs?; clone without start`,
      ),
    );
    expect(await filesOnB(newName)).toEqual([]);
    expect(await lab.domainState('b', newName)).toBeUndefined();

    // The same name again, so the refused clone's lock is shown to be gone too.
    const result = await testEnvironment().client.clone(clone);
    expect(result).toMatchObject({ success: true, started: false });
    expect(result.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(
            `^'${newName}' may not start on ${WHERE}: it asks for 64\\.0 TiB of memory and the host has [\\d.]+ GiB available \\(the clone is defined, not started\\)$`,
          ),
        ),
        expect.stringMatching(
          new RegExp(
            `^'${newName}' may not start on ${WHERE}: it asks for ${vcpus} vCPUs and the host has ${vcpus - 1} CPUs? \\(`,
          ),
        ),
      ]),
    );
    expect(await lab.domainState('b', newName)).toBe('shut off');
    await lab.virsh('b', 'undefine', '--nvram', '--domain', newName);
    for (const file of await filesOnB(`${newName}-`)) await rm(path.join(lab.host('b').storageDir, file));
    await lab.removeVm('a', vm);
  });
});
