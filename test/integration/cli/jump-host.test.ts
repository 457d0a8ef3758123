/**
 * The real CLI binary, as an OpenSSH user runs it: the destination is a name from the
 * user's ~/.ssh/config, reached through the jump host its ProxyJump names (the lab's, see
 * scripts/lab/up-jump). The jump host's sshd log proves the connection went through it.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cloneResultDocument } from '../../helpers/cli-documents';
import { embeddedCliEnv, jsonLines, kvmClone, stopEmbeddedServer, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
const sys = lab.host('sys');
let dir: string;
let config: string;
let env: NodeJS.ProcessEnv;
let vm: LabVm | undefined;
const clonePaths: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-cli-jump-'));
  config = await writeLabConfig(lab, path.join(dir, 'embedded.yaml'));
  env = await embeddedCliEnv(dir, lab.sshConfigBehindJump('lab-hidden-sys', 'sys'));
  vm = await lab.makeVm('a', uniqueVmName('clijump'), { fillMib: 8 });
});

afterAll(async () => {
  await stopEmbeddedServer(dir);
  if (vm) {
    await lab.virsh('sys', 'undefine', '--nvram', '--domain', `${vm.name}_clone`).catch(() => undefined);
    await lab.removeVm('a', vm);
  }
  for (const file of clonePaths) await rm(file, { force: true });
  if (vm) {
    const left = (await readdir(sys.storageDir)).filter((file) => file.startsWith(`${vm!.name}_clone`));
    for (const file of left) await rm(path.join(sys.storageDir, file), { force: true });
  }
  await rm(dir, { recursive: true, force: true });
});

describe("kvm-clone clone to a host behind ~/.ssh/config's ProxyJump", () => {
  it('copies a → lab-hidden-sys through the jump host, which forwarded the connection', async () => {
    const logFrom = await lab.jumpLogSize();

    const cloned = await kvmClone(
      ['-c', config, '-o', 'json', 'clone', 'a', 'lab-hidden-sys', vm!.name, '--dest-dir', sys.storageDir],
      env,
    );

    expect(cloned.code, `${cloned.stderr.slice(-4000)}\n${cloned.stdout.slice(-2000)}`).toBe(0);
    const result = cloneResultDocument.parse(jsonLines(cloned.stdout).at(-1));
    clonePaths.push(...result.files.map((file) => file.destinationPath));
    expect(result).toMatchObject({ destinationHost: 'lab-hidden-sys', newName: `${vm!.name}_clone` });
    for (const file of result.files) {
      expect(file.digest?.destination).toBe(file.digest?.source);
      expect(file.destinationPath.startsWith(`${sys.storageDir}/`)).toBe(true);
    }
    expect(await lab.domainState('sys', `${vm!.name}_clone`)).toBe('shut off');
    expect(await lab.jumpLogSince(logFrom)).toContain(`target ${sys.address} port ${sys.port}`);
  });
});
