import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { startTestEnvironment, type TestEnvironment } from '../../helpers/temporal';

const run = promisify(execFile);
const bin = path.resolve(__dirname, '../../../bin/kvm-clone');
const lab = new Lab(inject('labFile'));
let env: TestEnvironment;
let dir: string;

const progressLine = z.object({
  type: z.literal('progress'),
  phase: z.string(),
  percent: z.number().min(0).max(100),
  bytesDone: z.number(),
  bytesTotal: z.number(),
});
const resultLine = z.object({
  type: z.literal('result'),
  success: z.literal(true),
  operationId: z.string(),
  newName: z.string(),
  bytesTransferred: z.number().positive(),
  files: z.array(
    z.object({
      target: z.string(),
      digest: z.object({ algorithm: z.literal('sha256'), source: z.string(), destination: z.string() }),
    }),
  ),
});
const errorLine = z.object({ type: z.literal('error'), code: z.number(), codeName: z.string(), message: z.string() });

async function kvmClone(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [bin, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  env = await startTestEnvironment(lab.aliases());
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-cli-'));
  const labConfig = await readFile(path.join(lab.file.labDir, 'config.yaml'), 'utf8');
  await writeFile(
    path.join(dir, 'config.yaml'),
    `${labConfig}temporal:\n  address: ${inject('temporalAddress')}\n  taskQueue: ${env.taskQueue}\n`,
    { mode: 0o600 },
  );
});

afterAll(async () => {
  await env?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('kvm-clone clone (the real CLI binary)', () => {
  it('clones a VM, printing JSON progress lines and one JSON result', async () => {
    const name = uniqueVmName('cli');
    await lab.makeVm('a', name, { dataSize: '1G', fillMib: 256 });
    const { code, stdout, stderr } = await kvmClone([
      '--config',
      path.join(dir, 'config.yaml'),
      '--output',
      'json',
      'clone',
      'a',
      'b',
      name,
      '--new-name',
      `${name}-copy`,
    ]);
    expect(stderr).not.toContain('error');
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string });
    const result = resultLine.parse(lines.at(-1));
    expect(result.newName).toBe(`${name}-copy`);
    for (const line of lines.slice(0, -1)) progressLine.parse(line);
    expect(await lab.domainState('b', `${name}-copy`)).toBe('shut off');
  });

  it('exits non-zero with the error code in JSON and a one-line message on stderr', async () => {
    const { code, stdout, stderr } = await kvmClone([
      '--config',
      path.join(dir, 'config.yaml'),
      '-o',
      'json',
      'clone',
      'a',
      'b',
      'no-such-vm',
    ]);
    expect(code).toBe(1);
    expect(errorLine.parse(JSON.parse(stdout.trim().split('\n').at(-1)!))).toMatchObject({
      code: ErrorCode.VM_NOT_FOUND_ERROR,
    });
    expect(stderr.trim().split('\n').at(-1)).toMatch(
      /^kvm-clone: error 1003 \(VM_NOT_FOUND_ERROR\): VM 'no-such-vm' does not exist/,
    );
  });

  it('rejects a malformed config with 1001, naming the key and its line', async () => {
    const config = path.join(dir, 'bad.yaml');
    await writeFile(config, 'hosts:\n  a:\n    address: 127.0.0.2\n    port: 99999\n', { mode: 0o600 });
    const { code, stderr } = await kvmClone(['--config', config, 'clone', 'a', 'b', 'vm']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/error 1001 \(CONFIGURATION_ERROR\): .*bad\.yaml:4: hosts\.a\.port: /);
  });

  it('rejects invalid YAML with 1001 and its line', async () => {
    const config = path.join(dir, 'broken.yaml');
    await writeFile(config, 'hosts:\n  a: [unclosed\n', { mode: 0o600 });
    const { code, stderr } = await kvmClone(['--config', config, 'clone', 'a', 'b', 'vm']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/error 1001 \(CONFIGURATION_ERROR\): .*broken\.yaml:\d+: invalid YAML/);
  });

  it('warns when the config is readable by other users', async () => {
    const config = path.join(dir, 'open.yaml');
    await writeFile(config, `temporal:\n  address: ${inject('temporalAddress')}\n  taskQueue: ${env.taskQueue}\n`, {
      mode: 0o644,
    });
    const { stderr } = await kvmClone(['--config', config, 'clone', 'a', 'b', 'vm']);
    expect(stderr).toContain('is readable by other users');
  });
});
