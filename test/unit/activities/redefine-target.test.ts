import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it, vi } from 'vitest';
import type { ActivityDeps } from '../../../src/activities/deps';
import { redefineTarget } from '../../../src/activities/redefine-target';

const defineOnHost = vi.hoisted(() => vi.fn(async (_input: unknown) => ({ xml: '<domain/>' })));
vi.mock('../../../src/activities/define-clone', () => ({ defineClone: () => defineOnHost }));

describe('redefineTarget', () => {
  it('redefines the existing target, never starts it, and records the added files', async () => {
    const rewrite = { newName: 'web01-standby', uuid: '5f0c', diskPaths: {}, logDir: '/vms', networkMap: {} };
    await new MockActivityEnvironment().run(redefineTarget({} as ActivityDeps), {
      destination: 'b',
      sourceXml: '<domain/>',
      rewrite,
      graphicsPasswordsFrom: { source: 'a', vmName: 'web01' },
      operationId: 'sync:b:web01-standby',
      addedFiles: ['/vms/web01-standby-vdb.qcow2'],
    });
    expect(defineOnHost).toHaveBeenCalledWith({
      destination: 'b',
      sourceXml: '<domain/>',
      rewrite,
      graphicsPasswordsFrom: { source: 'a', vmName: 'web01' },
      operationId: 'sync:b:web01-standby',
      start: false,
      redefine: true,
      createdFiles: ['/vms/web01-standby-vdb.qcow2'],
    });
  });
});
