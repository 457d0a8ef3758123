import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { KvmCloneClient } from '../../../src/client/kvm-clone-client';
import { operationKind, operationsQuery } from '../../../src/client/operations';
import type { MigrateInput } from '../../../src/domain/schemas/migrate-input';
import { ErrorCode } from '../../../src/errors';
import type { MigrationProgress } from '../../../src/workflows/migration-control';

const input: MigrateInput = { source: 'a', destination: 'b', vmName: 'web01' };

const migrationProgress: MigrationProgress = {
  phase: 'waiting',
  passes: [{ kind: 'clone', operationId: 'migrate:a:web01-1-clone', bytesTransferred: 100, seconds: 5 }],
  maxDowntimeSeconds: 10,
  held: true,
};

/** A Temporal client that knows some workflows by id, and records what is asked of it. */
function fakeTemporal(workflows: Record<string, { type: string; status: string }>) {
  const calls: unknown[][] = [];
  const temporal = {
    connection: { withDeadline: (_deadline: number, call: () => Promise<unknown>) => call() },
    workflow: {
      start: async (workflowType: string, options: { workflowId: string; args: unknown[] }) => {
        calls.push(['start', workflowType, options.workflowId, ...options.args]);
        if (workflows[options.workflowId]?.status === 'RUNNING')
          throw new WorkflowExecutionAlreadyStartedError('already started', options.workflowId, workflowType);
        return { workflowId: options.workflowId };
      },
      getHandle: (workflowId: string) => {
        calls.push(['getHandle', workflowId]);
        return {
          workflowId,
          describe: async () => {
            const workflow = workflows[workflowId];
            if (!workflow) throw new WorkflowNotFoundError('workflow not found', workflowId, undefined);
            return {
              workflowId,
              runId: 'run',
              type: workflow.type,
              status: { name: workflow.status },
              startTime: new Date('2026-12-24T01:00:00Z'),
              taskQueue: 'kvm-clone',
              raw: { pendingActivities: [] },
            };
          },
          signal: async (signal: { name: string }, ...args: unknown[]) => {
            calls.push(['signal', workflowId, signal.name, ...args]);
          },
          query: async (query: { name: string }) => {
            calls.push(['query', workflowId, query.name]);
            return query.name === 'migration'
              ? migrationProgress
              : { phase: 'copying', disks: [], bytesTotal: 0, bytesDone: 0 };
          },
        };
      },
    },
  };
  return { client: new KvmCloneClient(temporal as unknown as KvmCloneClient['temporal']), calls };
}

const workflows = {
  'migrate:a:web01': { type: 'migrateVM', status: 'RUNNING' },
  'migrate:a:db01': { type: 'migrateVM', status: 'COMPLETED' },
  'clone:a:web01:b:web01_clone': { type: 'cloneVM', status: 'RUNNING' },
};

describe('KvmCloneClient migrations', () => {
  it('starts migrateVM under an id of the source and VM, with the input as given', async () => {
    const { client, calls } = fakeTemporal({});
    const handle = await client.startMigrate(input);
    expect(handle.workflowId).toBe('migrate:a:web01');
    expect(calls).toEqual([['start', 'migrateVM', 'migrate:a:web01', input]]);
  });

  it('refuses a second migration of the same VM, to whichever destination, with 1206', async () => {
    const { client } = fakeTemporal(workflows);
    await expect(client.startMigrate({ ...input, destination: 'c' })).rejects.toMatchObject({
      code: ErrorCode.MIGRATION_ERROR,
      message: "a migration of 'web01' is already running (operation migrate:a:web01)",
      details: { operationId: 'migrate:a:web01' },
    });
  });

  it('validates the input before starting anything: a bad field, and a cutover after the timeout (1304)', async () => {
    const { client, calls } = fakeTemporal({});
    await expect(client.startMigrate({ ...input, maxDowntime: 0 })).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_ERROR,
      message: expect.stringContaining('maxDowntime'),
    });
    const inTwoDays = new Date(Date.now() + 2 * 86400_000).toISOString();
    await expect(client.startMigrate({ ...input, cutoverAt: inTwoDays })).rejects.toMatchObject({
      code: ErrorCode.INVALID_TIMEOUT,
    });
    expect(calls).toEqual([]);
    await expect(client.startMigrate({ ...input, cutoverAt: inTwoDays, timeout: 3 * 86400 })).resolves.toBeDefined();
  });

  it('cutover: now without a time, or not before one, as the cutover signal', async () => {
    const { client, calls } = fakeTemporal(workflows);
    await client.cutover('migrate:a:web01');
    await client.cutover('migrate:a:web01', '2026-12-24T02:00:00Z');
    expect(calls.filter((call) => call[0] === 'signal')).toEqual([
      ['signal', 'migrate:a:web01', 'cutover'],
      ['signal', 'migrate:a:web01', 'cutover', { at: '2026-12-24T02:00:00Z' }],
    ]);
  });

  it('cutover: a time without a zone is refused with 1007 before Temporal is asked anything', async () => {
    const { client, calls } = fakeTemporal(workflows);
    await expect(client.cutover('migrate:a:web01', '2026-12-24 02:00')).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_ERROR,
      message: expect.stringContaining("cutover time: '2026-12-24 02:00' is not an ISO 8601 time with a zone"),
    });
    expect(calls).toEqual([]);
  });

  it('cutover: an unknown id is 1203, another kind of operation 1007, a migration that has ended 1206', async () => {
    const { client, calls } = fakeTemporal(workflows);
    await expect(client.cutover('migrate:a:nothing')).rejects.toMatchObject({
      code: ErrorCode.OPERATION_NOT_FOUND,
      message: expect.stringContaining('no operation migrate:a:nothing'),
    });
    await expect(client.cutover('clone:a:web01:b:web01_clone')).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_ERROR,
      message: 'operation clone:a:web01:b:web01_clone is a clone, not a migration; only a migration has a cutover',
    });
    await expect(client.cutover('migrate:a:db01')).rejects.toMatchObject({
      code: ErrorCode.MIGRATION_ERROR,
      message: 'migration migrate:a:db01 has already ended (COMPLETED); there is nothing to cut over',
    });
    // A signal to a clone would be dropped silently: none was sent.
    expect(calls.filter((call) => call[0] === 'signal')).toEqual([]);
  });

  it('holdCutover sends the holdCutover signal, to a running migration only', async () => {
    const { client, calls } = fakeTemporal(workflows);
    await client.holdCutover('migrate:a:web01');
    await expect(client.holdCutover('migrate:a:db01')).rejects.toMatchObject({ code: ErrorCode.MIGRATION_ERROR });
    await expect(client.holdCutover('migrate:a:nothing')).rejects.toMatchObject({
      code: ErrorCode.OPERATION_NOT_FOUND,
    });
    expect(calls.filter((call) => call[0] === 'signal')).toEqual([['signal', 'migrate:a:web01', 'holdCutover']]);
  });

  it('migration() answers the migration query; another kind of operation is 1007', async () => {
    const { client } = fakeTemporal(workflows);
    await expect(client.migration('migrate:a:web01')).resolves.toEqual(migrationProgress);
    await expect(client.migration('clone:a:web01:b:web01_clone')).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_ERROR,
    });
    await expect(client.migration('migrate:a:nothing')).rejects.toMatchObject({
      code: ErrorCode.OPERATION_NOT_FOUND,
    });
  });

  it("status() of a running migration: kind 'migrate', with its passes, hold and estimate besides the progress", async () => {
    const { client } = fakeTemporal(workflows);
    const status = await client.status('migrate:a:web01');
    expect(status).toMatchObject({ kind: 'migrate', workflowType: 'migrateVM', state: 'RUNNING' });
    expect(status.migration).toEqual(migrationProgress);
    expect(status.progress).toMatchObject({ phase: 'copying' });
    expect((await client.status('clone:a:web01:b:web01_clone')).migration).toBeUndefined();
  });

  it('lists migrations among the operations', () => {
    expect(operationKind('migrateVM')).toBe('migrate');
    expect(operationsQuery('kvm-clone', 'all')).toContain("'migrateVM'");
  });
});
