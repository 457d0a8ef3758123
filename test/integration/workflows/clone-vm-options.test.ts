import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';
import { sha256OfFile } from '../../helpers/local-files';

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
/** The pool test's VM name, and the destination pool it makes: alias `b-pooled` names it as its storage pool. */
const poolVmName = uniqueVmName('pool');
const destinationPoolName = `kcdst-${poolVmName}`;
// Direct routes come from the worker's config only: `b-nobody` is host b, reached from a as a user b refuses.
const testEnvironment = useTestEnvironment({
  ...lab.aliases(),
  a: {
    ...lab.aliases().a!,
    direct: { b: lab.directRoute('a', 'b'), 'b-nobody': { ...lab.directRoute('a', 'b'), user: 'nobody' } },
  },
  b: { ...lab.aliases().b!, storagePools: [destinationPoolName] },
  'b-nobody': lab.hostSpec('b'),
  'b-pooled': lab.hostSpec('b', { storagePool: destinationPoolName }),
});
const storageB = () => lab.host('b').storageDir;

async function cloneXml(name: string): Promise<ReturnType<typeof parseDomainXml>> {
  return parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', name));
}

async function filesOnB(prefix: string): Promise<string[]> {
  return (await readdir(storageB())).filter((file) => file.startsWith(prefix));
}

async function bootClone(newName: string): Promise<string> {
  return lab.bootAndReadConsole('b', newName, `${storageB()}/${newName}-console.log`);
}

/** Redefines a lab VM on host a from its own XML, edited. */
async function redefine(vm: LabVm, edit: (xml: string) => string): Promise<void> {
  const xml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', vm.name);
  await lab.sshAs('a', 'virsh -q -c qemu:///session define --file /dev/stdin', edit(xml));
}

async function writeAt(file: string, offset: number, text: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(Buffer.from(text), 0, text.length, offset);
  } finally {
    await handle.close();
  }
}

describe('cloneVM options', () => {
  it('dryRun returns the plan and the XML diff and changes nothing on either host', async () => {
    const name = uniqueVmName('dry');
    const vm = await lab.makeVm('a', name);
    const before = await Promise.all([sha256OfFile(vm.rootPath), sha256OfFile(vm.dataPath)]);

    const result = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: name,
      newName: `${name}-copy`,
      dryRun: true,
    });

    expect(result).toMatchObject({
      success: true,
      dryRun: true,
      files: [],
      bytesTransferred: 0,
      consistency: 'offline',
    });
    const plan = result.plan!;
    expect(plan.files.map((file) => [file.target, file.format, file.virtualSize])).toEqual([
      ['vda', 'qcow2', 32 * 1024 * 1024],
      ['vdb', 'raw', 256 * 1024 * 1024],
    ]);
    expect(plan.files[1]!.destinationPath).toBe(`${storageB()}/${name}-copy-vdb.img`);
    expect(plan.files[1]!.dataBytes).toBeGreaterThan(1024 * 1024);
    expect(plan.files[1]!.dataBytes).toBeLessThan(4 * 1024 * 1024);
    expect(plan.bytesToTransfer).toBe(plan.files.reduce((sum, file) => sum + file.dataBytes, 0));
    expect(plan.destinationFreeBytes).toBeGreaterThan(0);
    expect(plan.xmlDiff).toContain(`-  <name>${name}</name>`);
    expect(plan.xmlDiff).toContain(`+  <name>${name}-copy</name>`);
    expect(await filesOnB(`${name}-copy`)).toEqual([]);
    expect(await lab.domainState('b', `${name}-copy`)).toBeUndefined();
    expect(await Promise.all([sha256OfFile(vm.rootPath), sha256OfFile(vm.dataPath)])).toEqual(before);
  });

  it('force replaces an existing destination VM only with a verified copy; without it the clone is refused with 1004', async () => {
    const name = uniqueVmName('force');
    const vm = await lab.makeVm('a', name);
    await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });
    await writeAt(vm.dataPath, 0, 'KVMCLONE-SECOND-GENERATION');
    await expect(testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name })).rejects.toMatchObject(
      { code: ErrorCode.VM_EXISTS_ERROR },
    );

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, force: true });

    expect(result.replaced).toBe(`${name}_clone`);
    const data = result.files.find((file) => file.target === 'vdb')!;
    expect(await sha256OfFile(data.destinationPath)).toBe(await sha256OfFile(vm.dataPath));
    expect((await filesOnB(`${name}_clone`)).filter((file) => file.includes('.kvm-clone-'))).toEqual([]);
    expect((await cloneXml(`${name}_clone`)).disks.map((disk) => disk.sourcePath)).toEqual(
      result.files.map((file) => file.destinationPath),
    );
  });

  it('copies a qcow2 backing chain and links the copied layers; flattenBackingChain merges them into one image', async () => {
    const name = uniqueVmName('chain');
    const vm = await lab.makeVm('a', name, { backing: true });

    const layered = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });
    expect(layered.files.map((file) => [file.role, file.target])).toEqual([
      ['disk', 'vda'],
      ['backing', 'vda'],
      ['disk', 'vdb'],
    ]);
    const [top, base] = layered.files;
    const topInfo = JSON.parse(
      (await run('qemu-img', ['info', '-U', '--output=json', top!.destinationPath])).stdout,
    ) as { 'full-backing-filename'?: string };
    expect(topInfo['full-backing-filename']).toBe(base!.destinationPath);
    expect(await bootClone(`${name}_clone`)).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);

    const flat = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: name,
      newName: `${name}_flat`,
      flattenBackingChain: true,
    });
    const flatTop = flat.files[0]!;
    const flatInfo = JSON.parse(
      (await run('qemu-img', ['info', '-U', '--output=json', flatTop.destinationPath])).stdout,
    ) as { 'backing-filename'?: string };
    expect(flatInfo['backing-filename']).toBeUndefined();
    expect(await filesOnB(`${name}_flat-vda-backing`)).toEqual([]);
    expect(await bootClone(`${name}_flat`)).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);
  });

  it('copies a pool volume disk as a file, and puts disks into a destination storage pool when asked', async () => {
    const name = poolVmName;
    const sourcePool = `kcsrc-${name}`;
    const destinationPool = destinationPoolName;
    const vm = await lab.makeVm('a', name, { dataVolume: sourcePool });
    const poolDir = `${path.dirname(storageB())}/pools/${destinationPool}`;
    await lab.sshAs(
      'b',
      `mkdir -p '${poolDir}' && virsh -q -c qemu:///session pool-define-as --name '${destinationPool}' --type dir --target '${poolDir}' && virsh -q -c qemu:///session pool-start --pool '${destinationPool}'`,
    );
    try {
      const asFile = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });
      expect(asFile.files[1]).toMatchObject({
        target: 'vdb',
        sourcePath: vm.dataPath,
        destinationPath: `${storageB()}/${name}_clone-vdb.img`,
      });
      expect((await cloneXml(`${name}_clone`)).disks[1]).toMatchObject({
        type: 'file',
        sourcePath: `${storageB()}/${name}_clone-vdb.img`,
      });
      expect(await bootClone(`${name}_clone`)).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);

      const inPool = await testEnvironment().client.clone({
        source: 'a',
        destination: 'b',
        vmName: name,
        newName: `${name}_pooled`,
        destPool: destinationPool,
      });
      expect(inPool.files.map((file) => path.dirname(file.destinationPath))).toEqual([poolDir, poolDir]);
      const pooled = await cloneXml(`${name}_pooled`);
      expect(pooled.disks.map((disk) => [disk.type, disk.pool, disk.volume])).toEqual([
        ['volume', destinationPool, `${name}_pooled-vda.qcow2`],
        ['volume', destinationPool, `${name}_pooled-vdb.img`],
      ]);
      expect(await lab.virsh('b', 'vol-list', '--pool', destinationPool)).toContain(`${name}_pooled-vdb.img`);

      // A host whose configuration names a storage pool puts copies there by default.
      const byHost = await testEnvironment().client.clone({
        source: 'a',
        destination: 'b-pooled',
        vmName: name,
        newName: `${name}_hostpool`,
      });
      expect(byHost.files.map((file) => path.dirname(file.destinationPath))).toEqual([poolDir, poolDir]);
      expect((await cloneXml(`${name}_hostpool`)).disks.map((disk) => disk.pool)).toEqual([
        destinationPool,
        destinationPool,
      ]);
    } finally {
      await lab.removeVm('b', { name: `${name}_pooled`, dir: '/nonexistent' });
      await lab.removeVm('b', { name: `${name}_hostpool`, dir: '/nonexistent' });
      await lab.removePool('b', destinationPool);
      await lab.removeVm('a', vm);
      await lab.removePool('a', sourcePool);
    }
  });

  it('copies the UEFI variable store, rewrites its path, and starts the clone with start', async () => {
    const name = uniqueVmName('fw');
    const vm = await lab.makeVm('a', name, { nvram: true });

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, start: true });

    const nvram = result.files.find((file) => file.role === 'nvram')!;
    expect(nvram.destinationPath).toBe(`${storageB()}/${name}_clone_VARS.fd`);
    expect(nvram.digest?.destination).toBe(await sha256OfFile(vm.nvramPath!));
    expect((await cloneXml(`${name}_clone`)).nvramPath).toBe(nvram.destinationPath);
    expect(result.started).toBe(true);
    const consoleLog = `${storageB()}/${name}_clone-console.log`;
    for (let poll = 0; !(await readFile(consoleLog, 'utf8').catch(() => '')).includes('KVMCLONE-GUEST-DONE'); poll++) {
      expect(poll).toBeLessThan(180);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(await readFile(consoleLog, 'utf8')).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);
  });

  it('references CD-ROM media by default, warning when the destination lacks it, and copies it with copyCdroms', async () => {
    const name = uniqueVmName('media');
    // Media the clone may reference must lie where the destination allows host files: here b's scratch dir.
    const vm = await lab.makeVm('a', name, { cdrom: `${lab.scratchDir('b')}/${name}.iso` });

    const copied = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: name,
      newName: `${name}_media`,
      copyCdroms: true,
    });
    const media = copied.files.find((file) => file.role === 'cdrom')!;
    expect(media.destinationPath.startsWith(storageB())).toBe(true);
    expect(await sha256OfFile(media.destinationPath)).toBe(await sha256OfFile(vm.cdromPath!));
    expect((await cloneXml(`${name}_media`)).disks.find((disk) => disk.device === 'cdrom')?.sourcePath).toBe(
      media.destinationPath,
    );
    expect(copied.warnings).toEqual([]);

    // The lab's hosts share one filesystem: without the file, b lacks the media the clone references.
    await rm(vm.cdromPath!, { force: true });
    const referenced = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });
    expect(referenced.files.map((file) => file.role)).toEqual(['disk', 'disk']);
    expect((await cloneXml(`${name}_clone`)).disks.find((disk) => disk.device === 'cdrom')?.sourcePath).toBe(
      vm.cdromPath,
    );
    expect(referenced.warnings.join('\n')).toContain(`${vm.cdromPath} is referenced by the clone but missing`);
  });

  it('maps networks with networkMap, and refuses with 1205 a network the destination lacks', async () => {
    const name = uniqueVmName('net');
    const sourceNetwork = `kcs-${name.slice(-6)}`;
    const destinationNetwork = `kcd-${name.slice(-6)}`;
    await lab.defineNetwork('a', sourceNetwork);
    await lab.defineNetwork('b', destinationNetwork);
    try {
      await lab.makeVm('a', name, { network: sourceNetwork });
      await expect(
        testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name }),
      ).rejects.toMatchObject({
        code: ErrorCode.NETWORK_ERROR,
        message: expect.stringContaining(`no network named '${sourceNetwork}'`),
      });
      expect(await filesOnB(`${name}_clone`)).toEqual([]);

      const result = await testEnvironment().client.clone({
        source: 'a',
        destination: 'b',
        vmName: name,
        networkMap: { [sourceNetwork]: destinationNetwork, unused: 'other' },
      });
      expect((await cloneXml(`${name}_clone`)).interfaces.map((iface) => iface.source)).toEqual([destinationNetwork]);
      expect(result.warnings.join('\n')).toContain("networkMap entry 'unused' matches no interface");
    } finally {
      await lab.undefineNetwork('a', sourceNetwork);
      await lab.undefineNetwork('b', destinationNetwork);
    }
  });

  it('refuses with 1205 a bridge the destination lacks, before any byte moves', async () => {
    const name = uniqueVmName('bridge');
    const vm = await lab.makeVm('a', name);
    const bridge = `kcbr-${name.slice(-6)}`;
    await redefine(vm, (xml) =>
      xml.replace(/<interface type='user'>/, `<interface type='bridge'><source bridge='${bridge}'/>`),
    );
    await expect(testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name })).rejects.toMatchObject(
      {
        code: ErrorCode.NETWORK_ERROR,
        message: expect.stringContaining(`no bridge named '${bridge}'`),
      },
    );
    expect(await filesOnB(`${name}_clone`)).toEqual([]);
  });

  it('refuses a network disk with 1200 naming excludeDisks, and leaves excluded disks out of the clone', async () => {
    const name = uniqueVmName('netdisk');
    const vm = await lab.makeVm('a', name);
    await redefine(vm, (xml) =>
      xml.replace(
        '</devices>',
        "<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='export'><host name='127.0.0.1' port='10809'/></source><target dev='vdc' bus='virtio'/></disk></devices>",
      ),
    );
    await expect(testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name })).rejects.toMatchObject(
      {
        code: ErrorCode.CLONE_ERROR,
        message: expect.stringMatching(/vdc \(type network\).*excludeDisks/),
      },
    );

    const result = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: name,
      excludeDisks: ['vdc', 'vdb'],
    });
    expect(result.files.map((file) => file.target)).toEqual(['vda']);
    expect((await cloneXml(`${name}_clone`)).disks.map((disk) => disk.target)).toEqual(['vda']);
  });

  it('compresses on the wire when both hosts have zstd, keeps the source MACs with preserveMac, and the copy is identical', async () => {
    const name = uniqueVmName('zstd');
    const vm = await lab.makeVm('a', name, { fillMib: 64 });
    const result = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: name,
      compress: true,
      preserveMac: true,
      bandwidthLimit: '200M',
      parallel: 2,
    });
    expect(result.compression).toBe('zstd');
    for (const file of result.files)
      expect(await sha256OfFile(file.destinationPath)).toBe(await sha256OfFile(file.sourcePath));
    expect((await cloneXml(`${name}_clone`)).interfaces[0]!.mac).toBe(vm.mac);
  });

  it('refuses with 1009 a domain whose emulator the destination cannot run, before any byte moves', async () => {
    const name = uniqueVmName('emu');
    const vm = await lab.makeVm('a', name);
    // An emulator only host a can reach: the hosts share this machine's filesystem.
    const privateDir = await mkdtemp(path.join(path.dirname(lab.host('a').storageDir), 'emu-'));
    await symlink('/usr/bin/qemu-system-x86_64', `${privateDir}/qemu-system-x86_64`);
    await run('chown', ['-R', lab.host('a').user, privateDir]);
    await chmod(privateDir, 0o700);
    try {
      await redefine(vm, (xml) =>
        xml.replace(/<emulator>[^<]*<\/emulator>/, `<emulator>${privateDir}/qemu-system-x86_64</emulator>`),
      );
      await expect(
        testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name }),
      ).rejects.toMatchObject({
        code: ErrorCode.LIBVIRT_ERROR,
        message: expect.stringContaining('cannot run a VM'),
      });
      expect(await filesOnB(`${name}_clone`)).toEqual([]);
    } finally {
      await lab.removeVm('a', vm);
      await rm(privateDir, { recursive: true, force: true });
    }
  });

  it('refuses with 1204 a destination directory without room for the disks plus a margin', async () => {
    const name = uniqueVmName('full');
    await lab.makeVm('a', name, { fillMib: 64 });
    const small = `${lab.scratchDir('b')}/small-${name}`;
    await mkdir(small, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0777', 'tmpfs', small]);
    try {
      await expect(
        testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, destDir: small }),
      ).rejects.toMatchObject({
        code: ErrorCode.DISK_SPACE_ERROR,
        message: expect.stringContaining('not enough space'),
      });
      expect(await readdir(small)).toEqual([]);
    } finally {
      await run('umount', [small]);
      await rm(small, { recursive: true, force: true });
    }
  });

  it("pushes straight from the source host to the destination host with direct (the worker's route), compressed or not", async () => {
    const name = uniqueVmName('direct');
    await lab.makeVm('a', name, { fillMib: 64 });
    const plain = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name, direct: true });
    expect(plain.transport).toBe('direct');
    for (const file of plain.files)
      expect(await sha256OfFile(file.destinationPath)).toBe(await sha256OfFile(file.sourcePath));

    const squeezed = await testEnvironment().client.clone({
      source: 'a',
      destination: 'b',
      vmName: name,
      newName: `${name}_z`,
      direct: true,
      compress: true,
    });
    expect(squeezed).toMatchObject({ transport: 'direct', compression: 'zstd' });
    for (const file of squeezed.files) expect(file.digest?.source).toBe(file.digest?.destination);
  });

  it('a direct route the source host cannot authenticate fails with 1100 and leaves nothing behind', async () => {
    const name = uniqueVmName('directauth');
    await lab.makeVm('a', name);
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'b-nobody', vmName: name, direct: true }),
    ).rejects.toMatchObject({
      code: ErrorCode.AUTH_ERROR,
    });
    expect(await filesOnB(`${name}_clone`)).toEqual([]);
  });

  it("copies the emulated TPM's state into a directory named by the clone's own UUID", async () => {
    const name = uniqueVmName('tpm');
    const vm = await lab.makeVm('a', name, { tpm: true });
    await lab.bootAndReadConsole('a', name, `${vm.dir}/console.log`); // the first boot creates the state
    // The guest prints DONE before qemu exits; a clone started in between would copy a running source that then stops.
    for (let poll = 0; poll < 300 && (await lab.domainState('a', name)) !== 'shut off'; poll += 1)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const sourceUuid = (await lab.virsh('a', 'domuuid', '--domain', name)).trim();

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });

    const state = result.files.find((file) => file.role === 'tpm')!;
    expect(state.sourcePath).toContain(`/swtpm/${sourceUuid}/`);
    const cloneUuid = (await lab.virsh('b', 'domuuid', '--domain', `${name}_clone`)).trim();
    expect(cloneUuid).not.toBe(sourceUuid);
    expect(state.destinationPath).toBe(
      `${path.dirname(storageB())}/.config/libvirt/qemu/swtpm/${cloneUuid}/${state.target}`,
    );
    expect(await sha256OfFile(state.destinationPath)).toBe(await sha256OfFile(state.sourcePath));
    expect(await bootClone(`${name}_clone`)).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);
  });
});
