import { open, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from '../../../src/errors';
import { errorDocument, progressDocument } from '../../helpers/cli-documents';
import { jsonLines, kvmClone } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';

const lab = new Lab(inject('labFile'));
let env: TestEnvironment;
let dir: string;
let config: string;
let vm: LabVm;

const syncResultDocument = z.object({
  type: z.literal('result'),
  operationId: z.string(),
  success: z.literal(true),
  vmName: z.string(),
  targetName: z.string(),
  sourceHost: z.string(),
  destinationHost: z.string(),
  durationSeconds: z.number(),
  bytesTransferred: z.number().nonnegative(),
  blocksSynchronized: z.number().int().nonnegative(),
  bytesCompared: z.number().nonnegative(),
  bytesUnchanged: z.number().nonnegative(),
  blockSize: z.number().positive(),
  changeTracking: z.enum(['block-hash', 'full-copy']),
  hashTool: z.string(),
  files: z.array(
    z.object({
      role: z.string(),
      target: z.string(),
      action: z.enum(['updated', 'added', 'resized']),
      bytesTransferred: z.number(),
      digest: z.object({ algorithm: z.literal('sha256'), source: z.string(), destination: z.string() }).optional(),
    }),
  ),
  consistency: z.string(),
  compression: z.string(),
  transport: z.enum(['relay', 'direct']),
  rangesRecopied: z.number(),
  detachedDisks: z.array(z.string()),
  warnings: z.array(z.string()),
});

async function scribble(file: string, offset: number, bytes: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(randomBytes(bytes), 0, bytes, offset);
  } finally {
    await handle.close();
  }
}

beforeAll(async () => {
  env = await startTestEnvironment(lab.aliases());
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-cli-sync-'));
  config = path.join(dir, 'config.yaml');
  // Host a reaches b directly (direct mode); defaults.sync lies under the flags.
  const document = {
    hosts: { a: { ...lab.hostSpec('a'), direct: { b: lab.directRoute('a', 'b') } }, b: lab.hostSpec('b') },
    temporal: { address: inject('temporalAddress'), taskQueue: env.taskQueue },
    defaults: { sync: { parallel: 2 } },
  };
  await writeFile(config, stringify(document), { mode: 0o600 });
  vm = await lab.makeVm('a', uniqueVmName('clisync'), { dataSize: '256M', fillMib: 64 });
});

afterAll(async () => {
  await env?.stop();
  if (vm) {
    await lab.removeVm('a', vm).catch(() => undefined);
    await lab.virsh('b', 'undefine', '--domain', vm.name).catch(() => undefined);
    await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${vm.name}-*`).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
});

describe('kvm-clone sync (the real CLI binary)', () => {
  it('clones a standby under the same name, then syncs it directly (the configured route) and through the relay (--relay)', async () => {
    const cloned = await kvmClone(['-c', config, '-o', 'json', 'clone', 'a', 'b', vm.name, '--new-name', vm.name]);
    expect(cloned.stderr).not.toContain('error');
    expect(cloned.code).toBe(0);
    expect(jsonLines(cloned.stdout).at(-1)).toMatchObject({ type: 'result', newName: vm.name, transport: 'direct' });

    await scribble(vm.dataPath, 8 * 1024 * 1024, 256 * 1024);
    const synced = await kvmClone(['-c', config, '-o', 'json', 'sync', 'a', 'b', vm.name]);
    expect(synced.stderr).not.toContain('error');
    expect(synced.code).toBe(0);
    const lines = jsonLines(synced.stdout);
    const result = syncResultDocument.parse(lines.at(-1));
    for (const line of lines.slice(0, -1)) progressDocument.parse(line);
    expect(result).toMatchObject({
      operationId: `sync:b:${vm.name}`,
      targetName: vm.name,
      transport: 'direct',
      changeTracking: 'block-hash',
    });
    expect(result.blocksSynchronized).toBeGreaterThan(0);
    expect(result.bytesTransferred).toBeLessThan(4 * 1024 * 1024);

    // yaml output, the relay forced, and a full re-copy (--no-delta): the result says so.
    const relayed = await kvmClone([
      '-c',
      config,
      '-o',
      'yaml',
      '-q',
      'sync',
      'a',
      'b',
      vm.name,
      '--relay',
      '--no-delta',
      '--no-verify',
    ]);
    expect(relayed.code).toBe(0);
    const document = syncResultDocument.parse(parseAllDocuments(relayed.stdout).at(-1)!.toJS());
    expect(document).toMatchObject({ transport: 'relay', changeTracking: 'full-copy' });
    expect(document.files.every((file) => file.digest === undefined)).toBe(true);
  });

  it('--detach prints the operation id; status --follow prints the sync result', async () => {
    const started = await kvmClone([
      '-c',
      config,
      '-o',
      'json',
      'sync',
      'a',
      'b',
      vm.name,
      '--target-name',
      vm.name,
      '--detach',
    ]);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toEqual({ type: 'started', operationId: `sync:b:${vm.name}` });
    const followed = await kvmClone(['-c', config, '-o', 'json', 'status', `sync:b:${vm.name}`, '--follow']);
    expect(followed.code).toBe(0);
    syncResultDocument.parse(jsonLines(followed.stdout).at(-1));
  });

  it('a missing target is 1003, in JSON and on stderr', async () => {
    const lonely = await lab.makeVm('a', uniqueVmName('clinotarget'));
    try {
      const { code, stdout, stderr } = await kvmClone([
        '-c',
        config,
        '-o',
        'json',
        'sync',
        'a',
        'b',
        lonely.name,
        '--relay',
      ]);
      expect(code).toBe(1);
      expect(errorDocument.parse(JSON.parse(stdout.trim().split('\n').at(-1)!))).toMatchObject({
        code: ErrorCode.VM_NOT_FOUND_ERROR,
      });
      expect(stderr.trim().split('\n').at(-1)).toMatch(/^kvm-clone: error 1003 \(VM_NOT_FOUND_ERROR\): /);
    } finally {
      await lab.removeVm('a', lonely).catch(() => undefined);
    }
  });

  it('a bad flag is refused before anything starts', async () => {
    const { code, stderr } = await kvmClone(['-c', config, 'sync', 'a', 'b', vm.name, '--parallel', 'many']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/error 1007 \(VALIDATION_ERROR\): --parallel: 'many' is not a whole number/);
    expect((await stat(config)).isFile()).toBe(true);
  });
});
