import { cpus, totalmem } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { Libvirt } from '../../../src/hosts/libvirt';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { Lab } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
let session: SshSession;

beforeAll(async () => {
  session = await openSshSession(hostSpecSchema.parse(lab.hostSpec('b')));
});

afterAll(() => session?.close());

describe('Libvirt.nodeCapacity on a real host', () => {
  it("reads a session libvirt's CPUs and memory: the machine's, since its guests run on it", async () => {
    const capacity = await new Libvirt(session).nodeCapacity();

    // The lab hosts are this machine.
    expect(capacity.cpus).toBe(cpus().length);
    expect(capacity.totalMemoryBytes).toBe(Math.floor(totalmem() / 1024) * 1024);
    expect(capacity.availableMemoryBytes).toBeGreaterThan(0);
    expect(capacity.availableMemoryBytes).toBeLessThanOrEqual(capacity.totalMemoryBytes!);
  });
});
