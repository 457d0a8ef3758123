import { MockActivityEnvironment } from '@temporalio/testing';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActivityDeps } from '../../../src/activities/deps';
import { relinkBackingChains, renameAddedDisks } from '../../../src/activities/target-files';

const finalizeOnHost = vi.hoisted(() => vi.fn(async (_input: unknown) => undefined));
vi.mock('../../../src/activities/finalize-files', () => ({ finalizeFiles: () => finalizeOnHost }));

beforeEach(() => {
  finalizeOnHost.mockClear();
});

describe("a sync's target files", () => {
  it('renameAddedDisks only renames: no chain is re-linked or flattened', async () => {
    const renames = [{ from: '/vms/t-vdb.qcow2.kvm-clone-abc.part', to: '/vms/t-vdb.qcow2' }];
    await new MockActivityEnvironment().run(renameAddedDisks({} as ActivityDeps), { destination: 'b', renames });
    expect(finalizeOnHost).toHaveBeenCalledWith({ destination: 'b', renames, chains: [], flatten: false });
  });

  it('relinkBackingChains only re-links the layers, never flattening them or renaming a file', async () => {
    const chains = [
      {
        layers: [
          { path: '/vms/t-vda.qcow2', format: 'qcow2' },
          { path: '/vms/t-vda-backing1.qcow2', format: 'qcow2' },
        ],
      },
    ];
    await new MockActivityEnvironment().run(relinkBackingChains({} as ActivityDeps), { destination: 'b', chains });
    expect(finalizeOnHost).toHaveBeenCalledWith({ destination: 'b', renames: [], chains, flatten: false });
  });
});
