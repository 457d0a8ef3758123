import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from '../../../src/errors';
import {
  cloneResultDocument,
  errorDocument,
  operationsDocument,
  progressDocument,
  statusDocument,
} from '../../helpers/cli-documents';
import { eventually, jsonLines, kvmClone, spawnKvmClone, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
let env: TestEnvironment;
let dir: string;
let config: string;
let vm: LabVm;
let small: LabVm;
const copies: string[] = [];

const started = z.object({ type: z.literal('started'), operationId: z.string() }).strict();

beforeAll(async () => {
  env = await startTestEnvironment(lab.aliases());
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-status-'));
  config = await writeLabConfig(lab, path.join(dir, 'config.yaml'), {
    address: inject('temporalAddress'),
    taskQueue: env.taskQueue,
  });
  // Big enough, copied one range at a time, to run for several seconds.
  vm = await lab.makeVm('a', uniqueVmName('status'), { dataSize: '4G', fillMib: 1536 });
  small = await lab.makeVm('a', uniqueVmName('cancel'), { dataSize: '1G', fillMib: 512 });
});

afterAll(async () => {
  await env?.stop();
  if (vm) await lab.removeVm('a', vm);
  if (small) await lab.removeVm('a', small);
  for (const copy of copies) {
    await lab.virsh('b', 'undefine', '--domain', copy).catch(() => undefined);
    await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${copy}-*`).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
});

async function startDetached(source: LabVm, newName: string): Promise<string> {
  copies.push(newName);
  const { code, stdout, stderr } = await kvmClone([
    '-c',
    config,
    '-o',
    'json',
    'clone',
    'a',
    'b',
    source.name,
    '--new-name',
    newName,
    '--parallel',
    '1',
    '--detach',
  ]);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return started.parse(JSON.parse(stdout)).operationId;
}

describe('kvm-clone status and cancel (the real CLI binary)', () => {
  it('follows a running clone from a second process, and shows it in status', async () => {
    const operationId = await startDetached(vm, `${vm.name}-copy`);
    const follower = spawnKvmClone(['-c', config, '-o', 'json', 'status', operationId, '--follow']);

    const active = operationsDocument.parse(
      JSON.parse((await kvmClone(['-c', config, '-o', 'json', 'status'])).stdout),
    );
    expect(active.operations).toContainEqual(
      expect.objectContaining({ operationId, kind: 'clone', state: 'RUNNING', taskQueue: env.taskQueue }),
    );
    await eventually(async () => {
      const status = statusDocument.parse(
        JSON.parse((await kvmClone(['-c', config, '-o', 'json', 'status', operationId])).stdout),
      );
      return (status.progress?.disks.length ?? 0) > 0;
    }, 'per-disk progress in status');

    expect(await follower.exited).toBe(0);
    const lines = jsonLines(follower.output.stdout);
    const progress = lines.slice(0, -1).map((line) => progressDocument.parse(line));
    const result = cloneResultDocument.parse(lines.at(-1));
    expect(result.operationId).toBe(operationId);
    expect(
      progress.some((line) => line.bytesDone > 0 && line.bytesDone < line.bytesTotal && line.disks.length > 0),
    ).toBe(true);
    // Byte counts only grow.
    for (let index = 1; index < progress.length; index++)
      expect(progress[index]!.bytesDone).toBeGreaterThanOrEqual(progress[index - 1]!.bytesDone);

    const done = statusDocument.parse(
      JSON.parse((await kvmClone(['-c', config, '-o', 'json', 'status', operationId])).stdout),
    );
    expect(done).toMatchObject({ state: 'COMPLETED', result: { newName: `${vm.name}-copy` } });
    const all = operationsDocument.parse(
      JSON.parse((await kvmClone(['-c', config, '-o', 'json', 'status', '--all'])).stdout),
    );
    expect(all.operations).toContainEqual(
      expect.objectContaining({ operationId, state: 'COMPLETED', closeTime: expect.any(String) }),
    );
    const text = await kvmClone(['-c', config, 'status', '--all']);
    expect(text.stdout.split('\n')[0]).toMatch(/^OPERATION +KIND +STATE +STARTED +ENDED$/);
  });

  it('cancels a running clone; following it then ends with 1008', async () => {
    const operationId = await startDetached(small, `${small.name}-gone`);
    const { code, stdout } = await kvmClone(['-c', config, '-o', 'json', 'cancel', operationId]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ type: 'cancelled', operationId });
    const follow = await kvmClone(['-c', config, '-o', 'json', 'status', operationId, '--follow']);
    expect(follow.code).toBe(1);
    expect(errorDocument.parse(jsonLines(follow.stdout).at(-1))).toMatchObject({
      code: ErrorCode.OPERATION_CANCELLED_ERROR,
    });
    const status = statusDocument.parse(
      JSON.parse((await kvmClone(['-c', config, '-o', 'json', 'status', operationId])).stdout),
    );
    expect(status).toMatchObject({ state: 'CANCELLED', error: { code: ErrorCode.OPERATION_CANCELLED_ERROR } });
    expect(await lab.domainState('b', `${small.name}-gone`)).toBeUndefined();
  });

  it('answers an unknown operation id with 1203, for status and cancel', async () => {
    for (const args of [
      ['status', 'clone:a:nothing:b'],
      ['cancel', 'clone:a:nothing:b'],
      ['status', 'clone:a:nothing:b', '--follow'],
    ]) {
      const { code, stdout, stderr } = await kvmClone(['-c', config, '-o', 'json', ...args]);
      expect(code).toBe(1);
      expect(errorDocument.parse(JSON.parse(stdout))).toMatchObject({
        code: ErrorCode.OPERATION_NOT_FOUND,
        codeName: 'OPERATION_NOT_FOUND',
      });
      expect(stderr.trim()).toMatch(/^kvm-clone: error 1203 \(OPERATION_NOT_FOUND\): no operation clone:a:nothing:b/);
    }
  });
});
