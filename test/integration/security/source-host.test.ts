import { createHash } from 'node:crypto';
import { access, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import type { HostReachingDevice } from '../../../src/domain/schemas/worker-policy';
import { ErrorCode } from '../../../src/errors';
import { remoteBlockHashes } from '../../../src/hosts/block-hashes';
import { digestCommand } from '../../../src/hosts/remote-digest';
import { openSshSession } from '../../../src/hosts/ssh-session';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';

/*
 * Attacks from the source side: a guest that writes what it likes into its own disks, and
 * a source host that has been taken over (`a-hostile`: host a, whose virsh, qemu-img and
 * find lie as each test tells them). Whatever the source says, nothing may land outside
 * the clone's directory on the destination, reach the destination's host resources, or
 * leave a secret in workflow history.
 */

const lab = new Lab(inject('labFile'));
const hosts = { ...lab.aliases(), 'a-hostile': lab.hostileSpec() };
const testEnvironment = useTestEnvironment(hosts);
const allowingFilesystems = useTestEnvironment(hosts, { policy: { allowDevices: ['filesystem'] } });
const storageB = () => lab.host('b').storageDir;

afterEach(async () => {
  await lab.truth();
});

async function filesOnB(prefix: string): Promise<string[]> {
  return (await readdir(storageB())).filter((file) => file.startsWith(prefix));
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Makes the hostile host's `virsh dumpxml` of `vm` print its real XML passed through `sedScript`. */
async function lyingDumpXml(vm: LabVm, sedScript: string): Promise<void> {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  await lab.lie(
    'virsh',
    `case " $* " in
  *" dumpxml "*${quote(` ${vm.name} `)}*) virsh "$@" | sed -e ${quote(sedScript)} ;;
  *) exec virsh "$@" ;;
esac`,
  );
}

/**
 * A clone's preflight is refused with `code` and a message saying each of `phrases`; nothing of the clone exists on
 * host b.
 */
async function expectRefused(
  clone: Promise<unknown>,
  newName: string,
  code: number,
  ...phrases: string[]
): Promise<void> {
  const error = (await clone.then(
    () => undefined,
    (reason: unknown) => reason,
  )) as { code?: number; message?: string } | undefined;
  expect(error).toMatchObject({ code });
  for (const phrase of phrases) expect(error!.message).toContain(phrase);
  expect(await filesOnB(newName)).toEqual([]);
  expect(await lab.domainState('b', newName)).toBeUndefined();
}

describe('a source whose domain XML names paths', () => {
  it('attack: a disk target of a/../../../../etc/cron.d/pwn is refused with 1302, nothing written outside the destination dir', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('target'));
    const newName = uniqueVmName('pwn');
    await lyingDumpXml(vm, "s#dev='vdb'#dev='a/../../../../etc/cron.d/pwn'#");
    await expectRefused(
      testEnvironment().client.clone({ source: 'a-hostile', destination: 'b', vmName: vm.name, newName }),
      newName,
      ErrorCode.INVALID_PATH,
      'a/../../../../etc/cron.d/pwn',
    );
    // Where `<storageB>/<newName>-a/../../../../etc/cron.d/pwn` would have landed.
    expect(await exists(path.resolve(storageB(), `${newName}-a`, '../../../../etc/cron.d/pwn'))).toBe(false);
  });

  it('attack: a TPM state file named ../../ by a lying find is refused with 1302', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('tpm'), { tpm: true });
    const uuid = (await lab.virsh('a', 'domuuid', '--domain', vm.name)).trim();
    // The state a first boot would leave, without booting: find is what lies here.
    const stateDir = `.config/libvirt/qemu/swtpm/${uuid}/tpm2`;
    await lab.sshAs('a', `mkdir -p ${stateDir} && printf state > ${stateDir}/tpm2-00.permall`);
    await lab.lie('find', `printf './tpm2/tpm2-00.permall\\0./tpm2/../../../../../../../etc/cron.d/pwn\\0'`);
    const newName = uniqueVmName('pwn');
    await expectRefused(
      testEnvironment().client.clone({ source: 'a-hostile', destination: 'b', vmName: vm.name, newName }),
      newName,
      ErrorCode.INVALID_PATH,
      'TPM state listing',
    );
  });
});

describe('a guest that forges a qcow2 header in its raw disk', () => {
  it('attack: the clone holds the raw bytes, never the host file the forged header names as backing file', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('forged'));
    const secret = `KVMCLONE-HOST-SECRET-${uniqueVmName('s')}`;
    const secretPath = `${vm.dir}/host-secret.txt`;
    // What the guest writes to the first sectors of its raw disk vdb: a qcow2 header naming a host file as its backing file.
    await lab.sshAs(
      'a',
      `printf %s '${secret}' > '${secretPath}' && truncate -s 1M '${secretPath}' && ` +
        `qemu-img create -q -f qcow2 -b '${secretPath}' -F raw '${vm.dir}/forged.qcow2' 1M && ` +
        `dd if='${vm.dir}/forged.qcow2' of='${vm.dataPath}' bs=64k count=1 conv=notrunc status=none && rm -f '${vm.dir}/forged.qcow2'`,
    );
    const source = await readFile(vm.dataPath);
    expect(source.subarray(0, 4).toString('latin1')).toBe('QFI\xfb');

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: vm.name });
    expect(result.files.map((file) => [file.role, file.target, file.format])).toEqual([
      ['disk', 'vda', 'qcow2'],
      ['disk', 'vdb', 'raw'],
    ]);
    const copy = result.files.find((file) => file.target === 'vdb')!;
    const bytes = await readFile(copy.destinationPath);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(source).digest('hex'));
    expect(bytes.includes(Buffer.from(secret))).toBe(false);
    expect((await filesOnB(`${vm.name}_clone`)).sort()).toEqual([
      `${vm.name}_clone-vda.qcow2`,
      `${vm.name}_clone-vdb.img`,
    ]);
  });
});

/** Device XML a hostile source injects before `</devices>`, by the allowDevices kind that would let it through. */
const hostReachingDevices: [HostReachingDevice, string, string][] = [
  [
    'hostdev',
    `<hostdev mode='subsystem' type='usb' managed='no'><source><vendor id='0x1d6b'/><product id='0x0002'/></source></hostdev>`,
    '<hostdev>',
  ],
  [
    'filesystem',
    `<filesystem type='mount' accessmode='passthrough'><source dir='/'/><target dir='hostroot'/></filesystem>`,
    '<filesystem> hostroot',
  ],
  [
    'lun',
    `<disk type='block' device='lun'><source dev='/dev/sda'/><target dev='sdq' bus='scsi'/></disk>`,
    "<disk type='block' device='lun'> sdq",
  ],
  [
    'floppy',
    `<disk type='file' device='floppy'><source file='/etc/shadow'/><target dev='fda' bus='fdc'/></disk>`,
    "<disk type='file' device='floppy'> fda",
  ],
  ['smartcard', `<smartcard mode='host'/>`, '<smartcard>'],
  [
    'redirdev',
    `<redirdev bus='usb' type='tcp'><source mode='connect' host='127.0.0.1' service='4000'/></redirdev>`,
    '<redirdev>',
  ],
  ['shmem', `<shmem name='host-shm'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>`, '<shmem>'],
  [
    'interface-direct',
    `<interface type='direct'><source dev='lo' mode='bridge'/></interface>`,
    "<interface type='direct'>",
  ],
  [
    'interface-ethernet',
    `<interface type='ethernet'><target dev='tap-pwn'/></interface>`,
    "<interface type='ethernet'>",
  ],
  [
    'interface-hostdev',
    `<interface type='hostdev'><source><address type='pci' domain='0' bus='2' slot='0' function='0'/></source></interface>`,
    "<interface type='hostdev'>",
  ],
  [
    'serial-file',
    `<serial type='unix'><source mode='connect' path='/run/docker.sock'/><target port='1'/></serial>`,
    "<serial type='unix'>",
  ],
];

describe('a source XML with devices that reach the destination host', () => {
  it.each(hostReachingDevices)(
    'attack: %s is refused with 1200 naming the element and how to allow it',
    async (kind, device, element) => {
      const vm = await lab.makeVm('a', uniqueVmName(kind.replace(/[^a-z]/g, '')));
      await lyingDumpXml(vm, `s#</devices>#${device.replace(/#/g, '\\#')}</devices>#`);
      const newName = uniqueVmName('pwn');
      await expectRefused(
        testEnvironment().client.clone({ source: 'a-hostile', destination: 'b', vmName: vm.name, newName }),
        newName,
        ErrorCode.CLONE_ERROR,
        `${element}: `,
        `policy.allowDevices: ['${kind}']`,
      );
    },
  );

  it('attack: qemu:commandline is refused with 1200', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('qemuarg'));
    await lyingDumpXml(
      vm,
      "s#<domain type='qemu'>#<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>#; s#</domain>#<qemu:commandline><qemu:arg value='-drive'/><qemu:arg value='file=/etc/shadow,if=virtio'/></qemu:commandline></domain>#",
    );
    const newName = uniqueVmName('pwn');
    await expectRefused(
      testEnvironment().client.clone({ source: 'a-hostile', destination: 'b', vmName: vm.name, newName }),
      newName,
      ErrorCode.CLONE_ERROR,
      "<qemu:commandline>: it passes options straight to qemu's command line",
    );
  });

  it('a host-reaching device passes when the worker policy allows its kind', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('allowed'));
    await lyingDumpXml(
      vm,
      `s#</devices>#<filesystem type='mount' accessmode='passthrough'><source dir='${vm.dir}'/><target dir='shared'/></filesystem></devices>#`,
    );
    const newName = uniqueVmName('fs');
    const result = await allowingFilesystems().client.clone({
      source: 'a-hostile',
      destination: 'b',
      vmName: vm.name,
      newName,
    });
    expect(result.success).toBe(true);
    expect(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', newName)).toContain(`<target dir='shared'/>`);
  });

  it('attack: a CD-ROM pointing at a destination host file outside hostFiles is refused with 1200', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('cdpwn'), { cdrom: '/etc/hostname' });
    const newName = uniqueVmName('pwn');
    await expectRefused(
      testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: vm.name, newName }),
      newName,
      ErrorCode.CLONE_ERROR,
      `<disk type='file' device='cdrom'> hdc: it opens "/etc/hostname" on the destination`,
    );
  });
});

/** The raw bytes of a workflow's history: payloads are JSON in it, so any string they carry shows up as is. */
async function historyBytes(workflowId: string): Promise<Buffer> {
  const history = await testEnvironment().client.temporal.workflow.getHandle(workflowId).fetchHistory();
  return Buffer.from(temporal.api.history.v1.History.encode(history).finish());
}

describe('graphics passwords', () => {
  it('attack: a VNC password never appears in workflow history, nor in a dry-run diff; source and clone keep it', async () => {
    const vm = await lab.makeVm('a', uniqueVmName('vnc'));
    // libvirt takes at most 8 characters for a VNC password.
    const password = `Kv${Math.random().toString(36).slice(2, 8)}`;
    const xml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name);
    await lab.sshAs(
      'a',
      'virsh -q -c qemu:///session define --file /dev/stdin',
      xml.replace('</devices>', `<graphics type='vnc' autoport='yes' passwd='${password}'/></devices>`),
    );

    const dryRun = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: vm.name,
      dryRun: true,
    });
    expect(dryRun.plan!.xmlDiff).not.toContain(password);
    expect(dryRun.plan!.xmlDiff).not.toContain('passwd');
    const clone = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: vm.name });
    // The clone keeps the password: defineClone read it on the worker, right before the define.
    expect(await lab.virsh('b', 'dumpxml', '--inactive', '--security-info', '--domain', clone.newName)).toContain(
      `passwd='${password}'`,
    );
    for (const operationId of [dryRun.operationId, clone.operationId]) {
      const bytes = await historyBytes(operationId);
      expect(bytes.length).toBeGreaterThan(1000);
      expect(bytes.includes(Buffer.from(vm.name))).toBe(true);
      expect(bytes.includes(Buffer.from(password))).toBe(false);
      expect(bytes.includes(Buffer.from('passwd='))).toBe(false);
    }
    expect(await lab.virsh('a', 'dumpxml', '--inactive', '--security-info', '--domain', vm.name)).toContain(
      `passwd='${password}'`,
    );
  });
});

describe('hashing a file whose path starts with -', () => {
  it('attack: perl, python and coreutils digests read a path starting with - as a path, not a switch', async () => {
    const session = await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
    try {
      // Relative to the host user's home, where commands run: perl would read it as -M (load a module).
      const name = `-Mkvmclone${Math.random().toString(36).slice(2, 8)}.img`;
      const local = path.join(path.dirname(lab.host('a').storageDir), name);
      const content = Buffer.alloc(200_000, 7);
      content.write('marker', 1000);
      await writeFile(local, content, { mode: 0o644 });
      const extents = [{ start: 0, length: 150_000 }];
      const expected = createHash('sha256').update(content.subarray(0, 150_000)).digest('hex');
      // perl needs '--'; python's -c and the coreutils pipeline must stay immune too.
      for (const tool of ['perl', 'python3', 'coreutils'] as const) {
        expect((await session.run(digestCommand(tool, name, extents))).trim().split(/\s+/)[0]).toBe(expected);
      }
      expect((await session.run(digestCommand('coreutils', name, undefined))).trim().split(/\s+/)[0]).toBe(
        createHash('sha256').update(content).digest('hex'),
      );
      expect(await remoteBlockHashes(session, 'perl', name, extents, 65536)).toHaveLength(3);
      await rm(local, { force: true });
    } finally {
      session.close();
    }
  });
});
