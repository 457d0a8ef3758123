import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { ErrorCode } from '../../../src/errors';
import { Libvirt } from '../../../src/hosts/libvirt';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
let session: SshSession;
let libvirt: Libvirt;

const vms: LabVm[] = [];
const pools: string[] = [];
const networks: string[] = [];

beforeAll(async () => {
  session = await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
  libvirt = new Libvirt(session);
});

afterAll(async () => {
  for (const vm of vms) await lab.removeVm('a', vm);
  for (const pool of pools) await lab.removePool('a', pool);
  for (const network of networks) await lab.undefineNetwork('a', network);
  session?.close();
});

async function makeVm(prefix: string, options: Parameters<Lab['makeVm']>[2] = {}): Promise<LabVm> {
  const vm = await lab.makeVm('a', uniqueVmName(prefix), options);
  vms.push(vm);
  return vm;
}

function uniquePool(prefix: string): string {
  const name = uniqueVmName(prefix);
  pools.push(name);
  return name;
}

describe('storage pools and volumes', () => {
  it('finds the file behind a volume and the directory of its pool', async () => {
    const pool = uniquePool("pool 'one'");
    const vm = await makeVm('vol', { dataVolume: pool, dataFile: 'data disk.img' });
    expect(await libvirt.volumePath(pool, 'data disk.img')).toBe(vm.dataPath);
    expect(await libvirt.poolTargetPath(pool)).toBe(path.dirname(vm.dataPath));
    expect(path.dirname(vm.dataPath)).toBe(`${lab.file.labDir}/hosts/a/pools/${pool}`);
  });

  it('sees a file created behind libvirt as a volume only after refreshPool', async () => {
    const pool = uniquePool('pool-refresh');
    const vm = await makeVm('refresh', { dataVolume: pool });
    const file = `${path.dirname(vm.dataPath)}/-late.img`;
    await lab.sshAs('a', `truncate -s 1M '${file}'`);
    await expect(libvirt.volumePath(pool, '-late.img')).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: expect.stringContaining('pool-refresh'),
    });
    await libvirt.refreshPool(pool);
    expect(await libvirt.volumePath(pool, '-late.img')).toBe(file);
  });

  it('reports a missing pool, a missing volume and a stopped pool with code 1200', async () => {
    const missing = 'no-such-pool-kvmclone';
    const poolMessage = expect.stringContaining(`storage pool '${missing}' does not exist on kvmlab-a@`);
    await expect(libvirt.volumePath(missing, 'x.img')).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: poolMessage,
    });
    await expect(libvirt.poolTargetPath(missing)).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: poolMessage,
    });
    await expect(libvirt.refreshPool(missing)).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: poolMessage,
    });

    const pool = uniquePool('pool-stopped');
    await makeVm('stopped', { dataVolume: pool });
    await expect(libvirt.volumePath(pool, 'no-such-volume.img')).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: expect.stringContaining(`storage volume 'no-such-volume.img' does not exist in pool '${pool}'`),
    });

    await lab.virsh('a', 'pool-destroy', '--pool', pool);
    await expect(libvirt.volumePath(pool, 'data.img')).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: expect.stringContaining('is not active'),
    });
    await expect(libvirt.refreshPool(pool)).rejects.toMatchObject({
      code: ErrorCode.CLONE_ERROR,
      message: expect.stringContaining('is not active'),
    });
    // The definition still names the directory.
    expect(await libvirt.poolTargetPath(pool)).toBe(`${lab.file.labDir}/hosts/a/pools/${pool}`);
  });
});

describe('networks and bridges', () => {
  it('finds a defined network even when it is not started, and not a missing one', async () => {
    const name = uniqueVmName('-net');
    await lab.defineNetwork('a', name);
    networks.push(name);
    expect(await lab.virsh('a', 'net-info', '--network', name)).toMatch(/Active:\s+no/);
    expect(await libvirt.networkExists(name)).toBe(true);
    expect(await libvirt.networkExists('no-such-network-kvmclone')).toBe(false);
  });

  it('finds a Linux bridge, and neither other interfaces nor names outside /sys/class/net', async () => {
    const bridge = `kcb-${Math.random().toString(36).slice(2, 8)}`;
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    try {
      expect(await libvirt.bridgeExists(bridge)).toBe(true);
    } finally {
      await run('ip', ['link', 'del', bridge]);
    }
    expect(await libvirt.bridgeExists(bridge)).toBe(false);
    expect(await libvirt.bridgeExists('lo')).toBe(false);
    expect(await libvirt.bridgeExists('../../..')).toBe(false);
    expect(await libvirt.bridgeExists('')).toBe(false);
  });
});

describe('checkEmulator', () => {
  it("accepts the lab's emulator and machine and gives libvirt's canonical names", async () => {
    const support = await libvirt.checkEmulator({
      domainType: 'qemu',
      emulator: '/usr/bin/qemu-system-x86_64',
      machine: 'pc',
      arch: 'x86_64',
    });
    expect(support).toMatchObject({ domainType: 'qemu', emulator: '/usr/bin/qemu-system-x86_64', arch: 'x86_64' });
    expect(support.machine).toMatch(/^pc-i440fx-/);
    expect(await libvirt.checkEmulator({ domainType: 'qemu' })).toMatchObject({ domainType: 'qemu' });
  });

  it('refuses an emulator the host lacks, an unknown machine and an unknown arch with code 1009', async () => {
    await expect(
      libvirt.checkEmulator({ domainType: 'qemu', emulator: '/opt/no-such/qemu-system-x86_64', machine: 'pc' }),
    ).rejects.toMatchObject({
      code: ErrorCode.LIBVIRT_ERROR,
      message: expect.stringMatching(
        /^kvmlab-a@\S+ cannot run a VM with domain type 'qemu', emulator '\/opt\/no-such\/qemu-system-x86_64', machine 'pc': .*No such file/,
      ),
    });
    await expect(
      libvirt.checkEmulator({ domainType: 'qemu', emulator: '/usr/bin/qemu-system-x86_64', machine: 'pc-q35-99.0' }),
    ).rejects.toMatchObject({
      code: ErrorCode.LIBVIRT_ERROR,
      message: expect.stringMatching(/machine 'pc-q35-99\.0': .*not supported/),
    });
    await expect(libvirt.checkEmulator({ domainType: 'qemu', arch: 'sparc64' })).rejects.toMatchObject({
      code: ErrorCode.LIBVIRT_ERROR,
      message: expect.stringContaining("arch 'sparc64'"),
    });
  });
});

describe('lab VM variants', () => {
  it('defines a VM with a backing chain, a pool volume, NVRAM and a cdrom, and it boots', async () => {
    const pool = uniquePool('pool-boot');
    const vm = await makeVm('variants', { backing: true, dataVolume: pool, nvram: true, cdrom: 'media.iso' });
    const summary = parseDomainXml(await libvirt.dumpXml(vm.name, { inactive: true }));
    expect(summary.disks.map((disk) => [disk.target, disk.device, disk.type, disk.readonly])).toEqual([
      ['vda', 'disk', 'file', false],
      ['vdb', 'disk', 'volume', false],
      ['hdc', 'cdrom', 'file', true],
    ]);
    const xml = await libvirt.dumpXml(vm.name, { inactive: true });
    expect(xml).toContain(`<source pool='${pool}' volume='data.img'/>`);
    expect(xml).toContain(`<nvram>${vm.nvramPath}</nvram>`);
    expect(xml).toMatch(/<loader readonly='yes' type='pflash'>/);

    const console = await lab.bootAndReadConsole('a', vm.name, `${vm.dir}/console.log`);
    expect(console).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);
    expect(console).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);
  });

  it('defines a VM on a network that exists only as a definition', async () => {
    const network = uniqueVmName('net');
    await lab.defineNetwork('a', network);
    networks.push(network);
    const vm = await makeVm('netvm', { network });
    expect(parseDomainXml(await libvirt.dumpXml(vm.name, { inactive: true })).interfaces).toMatchObject([
      { type: 'network', mac: vm.mac, source: network },
    ]);
  });
});
