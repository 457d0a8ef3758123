/**
 * Attacks on the input a workflow takes from whoever can start one (the Temporal UI, a
 * schedule, any client of the namespace): a typo that a loose schema would drop, names
 * that forge log lines or overflow file names. Each is started as the UI would, straight
 * through Temporal past the kvm-clone client's own checks, and must fail before any
 * activity runs.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toKvmCloneError } from '../../../src/client/kvm-clone-client';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
let env: TestEnvironment;
let connection: Connection;
let temporal: Client;

beforeAll(async () => {
  env = await startTestEnvironment(lab.aliases());
  connection = await Connection.connect({ address: inject('temporalAddress') });
  temporal = new Client({ connection });
});

afterAll(async () => {
  await connection?.close();
  await env?.stop();
});

/**
 * Starts a workflow with `input` as the Temporal UI would, and returns its failure and whether any activity was
 * scheduled.
 */
async function startRaw(
  workflowType: 'cloneVM' | 'syncVM',
  input: Record<string, unknown>,
): Promise<{ code: number; message: string; activities: number }> {
  const handle = await temporal.workflow.start(workflowType, {
    taskQueue: env.taskQueue,
    workflowId: `attack-${randomUUID()}`,
    args: [input],
  });
  const error = await handle.result().then(
    () => undefined,
    (caught: unknown) => toKvmCloneError(caught),
  );
  expect(error, 'the workflow must fail').toBeDefined();
  const history = await handle.fetchHistory();
  const activities = (history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes).length;
  return { code: error!.code, message: error!.message, activities };
}

describe('strict workflow input', () => {
  it("attack: a 'dryrun: true' typo started from the UI fails with 1007 naming the key, and nothing runs", async () => {
    const outcome = await startRaw('cloneVM', {
      source: 'a',
      destination: 'b',
      vmName: uniqueVmName('typo'),
      dryrun: true,
    });
    expect(outcome.code).toBe(ErrorCode.VALIDATION_ERROR);
    expect(outcome.message).toContain("unrecognized key 'dryrun' (did you mean 'dryRun'?)");
    expect(outcome.activities).toBe(0);
  });

  it('attack: the same typo through the kvm-clone client is refused before any workflow starts', async () => {
    await expect(
      env.client.startClone({ source: 'a', destination: 'b', vmName: uniqueVmName('typo'), dryrun: true } as never),
    ).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_ERROR,
      message: "invalid clone input: unrecognized key 'dryrun' (did you mean 'dryRun'?)",
    });
  });

  it('attack: a new name with U+2028 (a forged log line) fails with 1301, and nothing runs', async () => {
    const outcome = await startRaw('cloneVM', {
      source: 'a',
      destination: 'b',
      vmName: uniqueVmName('name'),
      newName: 'copy\u2028INFO clone finished',
    });
    expect(outcome.code).toBe(ErrorCode.INVALID_VM_NAME);
    expect(outcome.message).toContain(
      'newName: VM name must not contain control characters or line separators (U+2028)',
    );
    expect(outcome.activities).toBe(0);
  });

  it('attack: a sync target name of 250 two-byte characters fails with 1301, and nothing runs', async () => {
    const outcome = await startRaw('syncVM', {
      source: 'a',
      destination: 'b',
      vmName: uniqueVmName('name'),
      targetName: 'é'.repeat(250),
    });
    expect(outcome.code).toBe(ErrorCode.INVALID_VM_NAME);
    expect(outcome.message).toContain('targetName: VM name is longer than 200 bytes in UTF-8');
    expect(outcome.activities).toBe(0);
  });
});
