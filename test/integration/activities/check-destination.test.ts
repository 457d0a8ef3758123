import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  checkDestination,
  type CheckDestinationInput,
  type DestinationCheck,
} from '../../../src/activities/check-destination';
import { createActivityDeps } from '../../../src/activities/deps';
import { HostRegistry } from '../../../src/activities/host-registry';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { testLogger } from '../../helpers/test-log';

const lab = new Lab(inject('labFile'));
const deps = createActivityDeps({ hosts: new HostRegistry(lab.aliases()) });

afterAll(() => deps.pool.closeAll());

/** What the clone workflow asks of host b for a VM of host a that carries TPM state. */
async function destinationInput(tpmUuid: string): Promise<CheckDestinationInput> {
  const name = uniqueVmName('tpmdir');
  const vm = await lab.makeVm('a', name);
  const domain = parseDomainXml(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name));
  await lab.removeVm('a', vm);
  return {
    destination: 'b',
    newName: `${name}_clone`,
    force: false,
    bytesNeeded: 1024 * 1024,
    fileNames: [`${name}_clone.qcow2`],
    networks: [],
    referencedFiles: [],
    tpmUuid,
    machine: { domainType: domain.domainType, emulator: domain.emulator, machine: domain.machine, arch: domain.arch },
  };
}

describe('checkDestination on a real host', () => {
  it('refuses (1004) a clone whose TPM state directory already exists, and names the directory', async () => {
    const uuid = randomUUID();
    const input = await destinationInput(uuid);
    const environment = new MockActivityEnvironment(undefined, { logger: testLogger() });

    // The same input passes while the directory is absent, and says where the state will go.
    const clear = (await environment.run(checkDestination(deps), input)) as DestinationCheck;
    expect(clear.tpmDir).toMatch(new RegExp(`/libvirt/qemu/swtpm/${uuid}$`));

    await lab.sshAs('b', `mkdir -p '${clear.tpmDir}'`);
    try {
      await expect(environment.run(checkDestination(deps), input)).rejects.toMatchObject({
        type: 'VM_EXISTS_ERROR',
        message: expect.stringContaining(`TPM state directory ${clear.tpmDir} already exists`),
        details: [{ code: ErrorCode.VM_EXISTS_ERROR, path: clear.tpmDir }],
      });
    } finally {
      await lab.sshAs('b', `rm -rf '${clear.tpmDir}'`);
    }
  });
});
