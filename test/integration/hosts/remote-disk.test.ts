import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { ErrorCode } from '../../../src/errors';
import { RemoteDisk } from '../../../src/hosts/remote-disk';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';

const run = promisify(execFile);

const lab = new Lab(inject('labFile'));
const MiB = 1024 * 1024;
let session: SshSession;
let disk: RemoteDisk;
const vms: LabVm[] = [];

beforeAll(async () => {
  session = await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
  disk = new RemoteDisk(session);
});

afterAll(async () => {
  for (const vm of vms) await lab.removeVm('a', vm);
  session?.close();
});

/** A VM that is only files: these tests never need libvirt to know it. */
async function makeVm(prefix: string, options: Parameters<Lab['makeVm']>[2] = {}): Promise<LabVm> {
  const vm = await lab.makeVm('a', uniqueVmName(prefix), { define: false, ...options });
  vms.push(vm);
  return vm;
}

/** Whether two images show a guest the same bytes, by qemu-img compare on the host. */
async function sameContents(a: string, b: string): Promise<boolean> {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  const answer = await lab.sshAs('a', `qemu-img compare -U ${quote(a)} ${quote(b)} >/dev/null 2>&1; echo $?`);
  return answer.trim() === '0';
}

describe('backing chains', () => {
  it('lists an overlay and its base, top first, with the relative reference made absolute', async () => {
    const vm = await makeVm('chain', {
      backing: true,
      dir: `${lab.host('a').vmDir}/${uniqueVmName("chain 'dir'")}`,
      baseFile: 'base image.qcow2',
    });
    expect(await disk.backingChain(vm.rootPath, 'qcow2')).toEqual([
      {
        path: vm.rootPath,
        format: 'qcow2',
        virtualSize: 32 * MiB,
        allocatedSize: expect.any(Number),
        backingFile: vm.basePath,
        backingFormat: 'qcow2',
      },
      { path: vm.basePath, format: 'qcow2', virtualSize: 32 * MiB, allocatedSize: expect.any(Number) },
    ]);
    // make-vm refers to the base by a relative path, which backingChain made absolute above.
    const header = JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', vm.rootPath])).stdout) as {
      'backing-filename'?: string;
    };
    expect(header['backing-filename']).toBe('base image.qcow2');
    expect(await disk.backingChain(vm.dataPath, 'raw')).toEqual([
      { path: vm.dataPath, format: 'raw', virtualSize: 256 * MiB, allocatedSize: expect.any(Number) },
    ]);
  });

  it('flattens a chain into one sparse image holding both layers', async () => {
    const vm = await makeVm('flatten', { backing: true });
    const flat = `${vm.dir}/flat/root.raw`;
    await disk.flattenInto(vm.rootPath, flat, 'raw', 'qcow2');
    expect(await disk.backingChain(flat, 'raw')).toEqual([
      { path: flat, format: 'raw', virtualSize: 32 * MiB, allocatedSize: expect.any(Number) },
    ]);
    expect(await sameContents(vm.rootPath, flat)).toBe(true);
    const bytes = await readFile(flat);
    // The marker lives in the base, the 0x6b pattern in the overlay's last 64 KiB.
    expect(bytes.includes(Buffer.from(vm.rootMarker))).toBe(true);
    expect(bytes.subarray(32 * MiB - 64 * 1024).every((byte) => byte === 0x6b)).toBe(true);
    expect((await stat(flat)).blocks * 512).toBeLessThan(8 * MiB);

    const qcow2 = `${vm.dir}/flat/root.qcow2`;
    await disk.flattenInto(vm.rootPath, qcow2, 'qcow2', 'qcow2');
    expect(await disk.backingChain(qcow2, 'qcow2')).toEqual([
      { path: qcow2, format: 'qcow2', virtualSize: 32 * MiB, allocatedSize: expect.any(Number) },
    ]);
    expect(await sameContents(vm.rootPath, qcow2)).toBe(true);
  });

  it('re-points a copied overlay at a copied base without changing what the guest sees', async () => {
    const vm = await makeVm('rebase', { backing: true });
    const copyDir = `${vm.dir}/copy dir`;
    await disk.copyFileLocal(vm.basePath!, `${copyDir}/-renamed base.qcow2`);
    await disk.copyFileLocal(vm.rootPath, `${copyDir}/root.qcow2`);
    await disk.rebaseUnsafe(`${copyDir}/root.qcow2`, `${copyDir}/-renamed base.qcow2`, 'qcow2');
    const chain = await disk.backingChain(`${copyDir}/root.qcow2`, 'qcow2');
    expect(chain.map((entry) => entry.path)).toEqual([`${copyDir}/root.qcow2`, `${copyDir}/-renamed base.qcow2`]);
    expect(chain[0]!.backingFormat).toBe('qcow2');
    expect(await sameContents(vm.rootPath, `${copyDir}/root.qcow2`)).toBe(true);
  });

  it('reports a broken chain, a missing image and a failed rebase or flatten with code 1006', async () => {
    const vm = await makeVm('broken', { backing: true });
    await lab.sshAs('a', `rm -f '${vm.basePath}'`);
    await expect(disk.backingChain(vm.rootPath, 'qcow2')).rejects.toMatchObject({
      code: ErrorCode.TRANSFER_ERROR,
      message: expect.stringMatching(
        new RegExp(
          `reading the backing chain of .*root\\.qcow2 failed: .*${vm.basePath!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*No such file`,
        ),
      ),
    });
    await expect(disk.flattenInto(vm.rootPath, `${vm.dir}/flat.raw`, 'raw', 'qcow2')).rejects.toMatchObject({
      code: ErrorCode.TRANSFER_ERROR,
      message: expect.stringContaining(`flattening ${vm.rootPath} into ${vm.dir}/flat.raw failed`),
    });
    expect(await disk.exists(`${vm.dir}/flat.raw`)).toBe(false);
    await expect(disk.backingChain(`${vm.dir}/missing.qcow2`, 'qcow2')).rejects.toMatchObject({
      code: ErrorCode.TRANSFER_ERROR,
    });
    await expect(disk.rebaseUnsafe(`${vm.dir}/missing.qcow2`, vm.basePath!, 'qcow2')).rejects.toMatchObject({
      code: ErrorCode.TRANSFER_ERROR,
      message: expect.stringContaining(`pointing ${vm.dir}/missing.qcow2 at backing file`),
    });
    // A raw file is no qcow2 overlay: -f qcow2 keeps rebase from rewriting it.
    await expect(disk.rebaseUnsafe(vm.dataPath, vm.rootPath, 'qcow2')).rejects.toMatchObject({
      code: ErrorCode.TRANSFER_ERROR,
    });
  });
});

describe('copyFileLocal', () => {
  it('copies an NVRAM file byte for byte and keeps its holes', async () => {
    const vm = await makeVm('nvram', { nvram: true });
    const copy = `${vm.dir}/copies/$(touch pwned) nvram.fd`;
    await disk.copyFileLocal(vm.nvramPath!, copy);
    expect(await readFile(copy)).toEqual(await readFile(vm.nvramPath!));
    expect((await readFile(copy)).subarray(0, vm.nvramMarker!.length).toString()).toBe(vm.nvramMarker);
    expect((await stat(copy)).blocks * 512).toBeLessThan(128 * 1024);
    expect(await disk.exists(`${vm.dir}/copies/pwned`)).toBe(false);
  });

  it('reports a missing source with code 1006', async () => {
    const vm = await makeVm('copy-missing');
    await expect(disk.copyFileLocal(`${vm.dir}/no-such-nvram.fd`, `${vm.dir}/copy.fd`)).rejects.toMatchObject({
      code: ErrorCode.TRANSFER_ERROR,
      message: expect.stringMatching(/copying .*no-such-nvram\.fd to .*copy\.fd failed: .*No such file/),
    });
  });
});
