/**
 * `-k/--ssh-key` and `--ssh-port` (the original tool's flags) with the real CLI binary: they configure how the
 * command's own worker reaches a host given by ssh name, and are a usage error where a shared worker would run the
 * operation.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cloneResultDocument } from '../../helpers/cli-documents';
import { embeddedCliEnv, jsonLines, kvmClone, stopEmbeddedServer, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
let dir: string;
let embeddedConfig: string;
let sharedConfig: string;
let env: NodeJS.ProcessEnv;
let vm: LabVm;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-ssh-flags-'));
  embeddedConfig = await writeLabConfig(lab, path.join(dir, 'embedded.yaml'));
  // Checked before any connection: nothing listens there.
  sharedConfig = await writeLabConfig(lab, path.join(dir, 'shared.yaml'), { address: '127.0.0.1:9' });
  // The user's ~/.ssh/config knows the system host's key, and nothing of its port or which key to use.
  env = await embeddedCliEnv(dir, `Host 127.0.0.9\n  UserKnownHostsFile ${lab.file.knownHostsFile}\n`);
  vm = await lab.makeVm('a', uniqueVmName('sshflags'));
});

afterAll(async () => {
  await stopEmbeddedServer(dir);
  if (vm) await lab.removeVm('a', vm);
  await rm(dir, { recursive: true, force: true });
});

describe('-k/--ssh-key and --ssh-port (the real CLI binary)', () => {
  it("reach root@127.0.0.9 with the lab's key on port 2222, which ~/.ssh/config does not name", async () => {
    const clone = ['-c', embeddedConfig, '-o', 'json', 'clone', 'a', 'root@127.0.0.9', vm.name, '--dry-run'];
    const destDir = ['--dest-dir', lab.host('sys').storageDir];

    const found = await kvmClone([...clone, ...destDir, '-k', lab.file.identityFile, '--ssh-port', '2222'], env);
    expect(found.code, `${found.stderr.slice(-4000)}\n${found.stdout.slice(-2000)}`).toBe(0);
    const result = cloneResultDocument.parse(jsonLines(found.stdout).at(-1));
    expect(result).toMatchObject({ dryRun: true, newName: `${vm.name}_clone` });

    // The same without -k: this home has no key, and no agent is reachable.
    const keyless = await kvmClone([...clone, ...destDir, '--ssh-port', '2222'], env);
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toMatch(/error 1101 \(SSH_KEY_ERROR\): root@\[127\.0\.0\.9\]:2222: no identity file/);
  });

  it('are a usage error (exit 2) where a shared worker would run the operation: its config owns keys and ports', async () => {
    const shared = await kvmClone(
      ['-c', sharedConfig, 'clone', 'a', 'root@127.0.0.9', vm.name, '-k', lab.file.identityFile],
      env,
    );
    expect(shared.code).toBe(2);
    expect(shared.stderr).toContain(
      "kvm-clone: error 1007 (VALIDATION_ERROR): -k/--ssh-key and --ssh-port set how this command's own worker reaches hosts given by ssh name; a shared worker's config owns its keys and ports",
    );

    const detached = await kvmClone(
      ['-c', embeddedConfig, 'clone', 'a', 'root@127.0.0.9', vm.name, '--detach', '--ssh-port', '2222'],
      env,
    );
    expect(detached.code).toBe(2);
    expect(detached.stderr).toContain('run without --detach');

    const worker = await kvmClone(['-c', sharedConfig, 'worker', '--ssh-port', '2222'], env);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain("the worker's config owns keys and ports");

    // status takes them for the worker --follow runs, which resumes an operation started with them.
    const notFollowing = await kvmClone(['-c', embeddedConfig, 'status', '-k', lab.file.identityFile], env);
    expect(notFollowing.code).toBe(2);
    expect(notFollowing.stderr).toContain('are for --follow');
    const sharedFollow = await kvmClone(
      ['-c', sharedConfig, 'status', 'some-id', '--follow', '--ssh-port', '2222'],
      env,
    );
    expect(sharedFollow.code).toBe(2);
    expect(sharedFollow.stderr).toContain("a shared worker's config owns its keys and ports");

    const missing = await kvmClone(['-c', sharedConfig, 'clone', 'a', 'b', vm.name, '-k', 'no-such-key'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error 1101 \(SSH_KEY_ERROR\): -k\/--ssh-key: \S+\/no-such-key is not a file/);
  });
});
