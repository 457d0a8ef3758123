import { readdir } from 'node:fs/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { failureInfo } from '../../../src/failures';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { useTestEnvironment, waitForCopying } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
const testEnvironment = useTestEnvironment(lab.aliases());

/** Files of a clone left in host b's storage directory. */
async function leftovers(newName: string): Promise<string[]> {
  return (await readdir(lab.host('b').storageDir)).filter((file) => file.startsWith(`${newName}-`));
}

describe('cloneVM failure paths leave nothing behind', () => {
  it('cancellation stops the copy, removes the partial files, defines nothing, and reports 1008', async () => {
    const name = uniqueVmName('cancel');
    await lab.makeVm('a', name, { dataSize: '4G', fillMib: 1536 });
    const handle = await testEnvironment().client.startClone({
      source: 'a',
      destination: 'b',
      vmName: name,
      parallel: 1,
    });
    await waitForCopying(testEnvironment().client, handle.workflowId);
    expect(await leftovers(`${name}_clone`)).not.toEqual([]);

    await testEnvironment().client.cancel(handle.workflowId);

    await expect(testEnvironment().client.result(handle.workflowId)).rejects.toMatchObject({
      code: ErrorCode.OPERATION_CANCELLED_ERROR,
    });
    expect(await leftovers(`${name}_clone`)).toEqual([]);
    expect(await lab.domainState('b', `${name}_clone`)).toBeUndefined();
    expect(await lab.domainState('a', name)).toBe('shut off');
  });

  it('a timeout cleans up the destination and reports 1202', async () => {
    const name = uniqueVmName('timeout');
    await lab.makeVm('a', name, { dataSize: '4G', fillMib: 1536 });
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, parallel: 1, timeout: 3 }),
    ).rejects.toMatchObject({
      code: ErrorCode.OPERATION_TIMEOUT,
    });
    expect(await leftovers(`${name}_clone`)).toEqual([]);
    expect(await lab.domainState('b', `${name}_clone`)).toBeUndefined();
  });

  it('refuses a destination directory that does not exist with 1302', async () => {
    const name = uniqueVmName('nodir');
    await lab.makeVm('a', name);
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, destDir: '/nonexistent/images' }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_PATH,
    });
  });

  it('names an unknown host alias with 1300', async () => {
    const name = uniqueVmName('alias');
    await lab.makeVm('a', name);
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'nowhere', vmName: name }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_HOST,
      message: expect.stringContaining("unknown host alias 'nowhere'"),
    });
  });

  it('validates input inside the workflow too, for starts that bypass the client (e.g. the Temporal UI)', async () => {
    const handle = await testEnvironment().client.temporal.workflow.start('cloneVM', {
      taskQueue: testEnvironment().taskQueue,
      workflowId: `raw-${uniqueVmName('invalid')}`,
      args: [{ source: 'a', destination: 'b', vmName: 'bad/name' }],
    });
    const failure = await handle.result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failureInfo(failure)).toMatchObject({
      code: ErrorCode.INVALID_VM_NAME,
      message: expect.stringContaining('vmName'),
    });
  });

  it('refuses a second clone of the same VM to the same destination while the first runs', async () => {
    const name = uniqueVmName('twice');
    await lab.makeVm('a', name, { dataSize: '2G', fillMib: 512 });
    const first = await testEnvironment().client.startClone({
      source: 'a',
      destination: 'b',
      vmName: name,
      parallel: 1,
    });
    await expect(
      testEnvironment().client.startClone({ source: 'a', destination: 'b', vmName: name }),
    ).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: expect.stringContaining('already running'),
    });
    await testEnvironment().client.result(first.workflowId);
  });
});
