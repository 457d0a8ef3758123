/**
 * Records the workflow histories that replay.test.ts replays, from real runs on the lab.
 * Not part of the test suite (vitest picks *.record.ts up only with KVM_CLONE_RECORD_HISTORIES=1); run it through scripts/record-histories
 * after a deliberate, versioned change to a workflow, and commit the new JSON files.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CloneResult, SyncResult } from '../../../src/client';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
const fixtures = path.resolve(__dirname, '../../fixtures/histories');
let env: TestEnvironment | undefined;
let vm: LabVm | undefined;

afterAll(async () => {
  await env?.stop();
  if (vm) {
    await lab.removeVm('a', vm);
    for (const name of [vm.name, `${vm.name}-copy`]) {
      await lab.virsh('b', 'undefine', '--nvram', '--domain', name).catch(() => undefined);
      await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${name}-*`).catch(() => undefined);
    }
  }
});

/**
 * Saves a finished workflow's history; the ids are normalised so a re-recording diffs only where the workflow changed.
 */
async function save(file: string, workflowId: string): Promise<void> {
  const history = await env!.client.temporal.workflow.getHandle(workflowId).fetchHistory();
  const json = JSON.parse(historyToJSON(history)) as unknown;
  await writeFile(path.join(fixtures, file), `${JSON.stringify({ workflowId, history: json }, null, 2)}\n`);
}

describe('record workflow histories for the replay test', () => {
  it('records a clone, a dry run, a scheduled dry run, a failed clone and a sync', async () => {
    env = await startTestEnvironment(lab.aliases());
    vm = await lab.makeVm('a', uniqueVmName('history'), { dataSize: '64M', fillMib: 16 });
    const clone = await env.client.clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      newName: vm.name,
      parallel: 2,
    });
    expect(clone.success).toBe(true);
    await save('clone-vm.json', clone.operationId);

    const dryRun = await env.client.clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      newName: `${vm.name}-copy`,
      dryRun: true,
    });
    await save('clone-vm-dry-run.json', dryRun.operationId);

    // What a clone schedule starts: the dated name is filled in from the run's start time.
    const scheduled = await env.client.temporal.workflow.start('scheduledCloneVM', {
      taskQueue: env.taskQueue,
      workflowId: `history-scheduled-${vm.name}`,
      args: [{ source: 'a', destination: 'b', vmName: vm.name, newName: `${vm.name}-{date}`, dryRun: true }],
    });
    await scheduled.result();
    await save('scheduled-clone-vm-dry-run.json', scheduled.workflowId);

    // The target exists: a preflight failure (1004), no compensation needed.
    const failing = await env.client.startClone({ source: 'a', destination: 'b', vmName: vm.name, newName: vm.name });
    await expect(env.client.result<CloneResult>(failing.workflowId)).rejects.toThrow();
    await save('clone-vm-exists.json', failing.workflowId);

    await run('dd', [
      'if=/dev/urandom',
      `of=${vm.dataPath}`,
      'bs=1M',
      'seek=4',
      'count=4',
      'conv=notrunc',
      'status=none',
    ]);
    const sync = await env.client.sync({ source: 'a', destination: 'b', vmName: vm.name });
    expect((sync as SyncResult).success).toBe(true);
    await save('sync-vm.json', sync.operationId);
  });
});
