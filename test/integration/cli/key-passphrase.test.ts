/**
 * A key with a passphrase, as the CLI's own worker uses it: asked for on the terminal (OpenSSH's ssh-add prompt, into
 * a private agent) when there is one and no agent, and a 1101 that says what to do when there is none.
 */
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { embeddedCliEnv, kvmClone, stopEmbeddedServer, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { kvmCloneOnTerminal } from '../../helpers/terminal';

const lab = new Lab(inject('labFile'));
const passphrase = 'lab passphrase';
let dir: string;
let lockedKey: string;
let config: string;
let env: NodeJS.ProcessEnv;
let vm: LabVm;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-locked-key-'));
  // The lab's own key, which every lab host accepts, with a passphrase on this copy.
  lockedKey = path.join(dir, 'id_locked');
  await copyFile(lab.file.identityFile, lockedKey);
  await chmod(lockedKey, 0o600);
  execFileSync('ssh-keygen', ['-q', '-p', '-f', lockedKey, '-P', '', '-N', passphrase]);
  config = await writeLabConfig(lab, path.join(dir, 'config.yaml'));
  env = await embeddedCliEnv(dir, `Host 127.0.0.9\n  UserKnownHostsFile ${lab.file.knownHostsFile}\n`);
  vm = await lab.makeVm('a', uniqueVmName('keypass'));
});

afterAll(async () => {
  await stopEmbeddedServer(dir);
  if (vm) await lab.removeVm('a', vm);
  await rm(dir, { recursive: true, force: true });
});

function cloneArgs(): string[] {
  return [
    ...['-c', config, '-o', 'json', 'clone', 'a', 'root@127.0.0.9', vm.name, '--dry-run'],
    ...['--dest-dir', lab.host('sys').storageDir, '-k', lockedKey, '--ssh-port', '2222'],
  ];
}

describe('a key with a passphrase (the real CLI binary)', () => {
  it('is asked for on the terminal, as ssh asks, and the operation reaches the host with it', async () => {
    const run = await kvmCloneOnTerminal(cloneArgs(), [passphrase], env);
    expect(run.code, run.shown.slice(-4000)).toBe(0);
    expect(run.shown).toContain(`Enter passphrase for ${lockedKey}`);
    expect(run.shown).toContain('"dryRun":true');
  });

  it('fails with 1101, starting no operation, when the passphrase is wrong and then none is given', async () => {
    const run = await kvmCloneOnTerminal(cloneArgs(), ['not the passphrase', ''], env);
    expect(run.code).toBe(1);
    expect(run.shown).toContain('Bad passphrase, try again');
    expect(run.shown).toContain(
      `error 1101 (SSH_KEY_ERROR): SSH key ${lockedKey} has a passphrase and was not unlocked`,
    );
    expect(run.shown).not.toMatch(/operation \S+/);
  });

  it('fails with 1101 saying to ssh-add it, without a terminal to ask on and without an agent', async () => {
    const run = await kvmClone(cloneArgs(), env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `error 1101 (SSH_KEY_ERROR): root@[127.0.0.9]:2222: SSH key ${lockedKey} has a passphrase and no SSH agent is available: add the key to an agent (ssh-add ${lockedKey})`,
    );
  });
});
