import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it, vi } from 'vitest';
import type { ActivityDeps } from '../../../src/activities/deps';
import { removeFiles } from '../../../src/activities/remove-files';

const removeOnHost = vi.hoisted(() => vi.fn(async (_input: unknown) => undefined));
vi.mock('../../../src/activities/remove-clone', () => ({ removeClone: () => removeOnHost }));

describe('removeFiles', () => {
  it("removes the files it is given through removeClone's checked removal, and never a domain", async () => {
    await new MockActivityEnvironment().run(removeFiles({} as ActivityDeps), {
      destination: 'b',
      paths: ['/vms/web01-vdb.qcow2.kvm-clone-abc.part'],
    });
    expect(removeOnHost).toHaveBeenCalledWith({ destination: 'b', paths: ['/vms/web01-vdb.qcow2.kvm-clone-abc.part'] });
    expect(removeOnHost.mock.calls[0]![0]).not.toHaveProperty('vmName');
  });
});
