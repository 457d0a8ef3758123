/**
 * The real CLI binary, as an OpenSSH user runs it: the destination is a name from the
 * user's ~/.ssh/config, reached through the jump host its ProxyJump names (the lab's, see
 * scripts/lab/up-jump). The jump host's sshd log proves the connection went through it.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stopServerProcess } from '../../../src/temporal/dev-server';
import { findFreePort } from '../../../src/temporal/free-port';
import { cloneResultDocument } from '../../helpers/cli-documents';
import { jsonLines, kvmClone, writeLabConfig } from '../../helpers/cli';
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
  const home = path.join(dir, 'home');
  await mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const sshConfig = path.join(home, '.ssh', 'config');
  const jump = lab.file.jump;
  await writeFile(
    sshConfig,
    [
      'Host lab-bastion',
      `  HostName ${jump.address}`,
      `  Port ${jump.port}`,
      `  User ${jump.user}`,
      'Host lab-hidden-sys',
      `  HostName ${sys.address}`,
      `  Port ${sys.port}`,
      `  User ${sys.user}`,
      '  ProxyJump lab-bastion',
      'Host *',
      `  IdentityFile ${lab.file.identityFile}`,
      `  UserKnownHostsFile ${lab.file.knownHostsFile}`,
      '',
    ].join('\n'),
  );
  await chmod(sshConfig, 0o600);
  config = await writeLabConfig(lab, path.join(dir, 'embedded.yaml'));
  env = {
    HOME: home,
    SSH_AUTH_SOCK: '',
    XDG_STATE_HOME: path.join(dir, 'state'),
    KVM_CLONE_EMBEDDED_PORT: String(await findFreePort()),
    KVM_CLONE_EMBEDDED_UI_PORT: String(await findFreePort()),
  };
  vm = await lab.makeVm('a', uniqueVmName('clijump'), { fillMib: 8 });
});

afterAll(async () => {
  const pid = Number(await readFile(path.join(dir, 'state', 'kvm-clone', 'temporal.pid'), 'utf8').catch(() => ''));
  if (pid > 0) await stopServerProcess(pid);
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
