import { execFile } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { Lab, uniqueVmName } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';
import { sha256OfFile } from '../../helpers/local-files';

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
const emptyKnownHosts = `${lab.file.labDir}/client/empty_known_hosts`;
// Hosts are aliases of the worker's config: one nobody listens on, one whose key the worker does not know.
const testEnvironment = useTestEnvironment({
  ...lab.aliases(),
  unreachable: lab.hostSpec('b', { address: '127.0.0.254', port: 2299 }),
  'b-unknown-key': lab.hostSpec('b', { knownHostsFile: emptyKnownHosts }),
});

describe('cloneVM on the lab hosts', () => {
  it('copies a shut-off VM with a qcow2 and a raw disk; the copy boots from its copied disks and the source is unchanged', async () => {
    const name = uniqueVmName('alpha');
    const vm = await lab.makeVm('a', name);
    const sourceXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    const sourceDigests = [await sha256OfFile(`${vm.dir}/root.qcow2`), await sha256OfFile(`${vm.dir}/data.img`)];

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });

    expect(result).toMatchObject({
      success: true,
      vmName: name,
      newName: `${name}_clone`,
      sourceHost: 'a',
      destinationHost: 'b',
    });
    expect(result.files.map((disk) => disk.target)).toEqual(['vda', 'vdb']);
    for (const disk of result.files) {
      expect(disk.digest?.source).toBe(disk.digest?.destination);
      expect(disk.digest?.source).toBe(await sha256OfFile(disk.sourcePath));
      expect(await sha256OfFile(disk.destinationPath)).toBe(disk.digest?.source);
      expect(disk.destinationPath.startsWith(lab.host('b').storageDir)).toBe(true);
    }

    // Sparse: the raw disk's holes stayed holes and only its data crossed the wire.
    const rawCopy = result.files[1]!;
    const rawStat = await stat(rawCopy.destinationPath);
    expect(rawStat.size).toBe(256 * 1024 * 1024);
    expect(rawStat.blocks * 512).toBeLessThan(8 * 1024 * 1024);
    expect(rawCopy.bytesTransferred).toBeLessThan(8 * 1024 * 1024);
    expect(rawCopy.bytesSkippedAsHoles).toBeGreaterThan(240 * 1024 * 1024);

    const cloneXml = await lab.virsh('b', 'dumpxml', '--inactive', '--domain', `${name}_clone`);
    const clone = parseDomainXml(cloneXml);
    const source = parseDomainXml(sourceXml);
    expect(clone.name).toBe(`${name}_clone`);
    expect(clone.uuid).toBeDefined();
    expect(clone.uuid).not.toBe(source.uuid);
    expect(clone.interfaces[0]!.mac).toMatch(/^52:54:00:/);
    expect(clone.interfaces[0]!.mac).not.toBe(source.interfaces[0]!.mac);
    expect(clone.disks.map((disk) => disk.sourcePath)).toEqual(result.files.map((disk) => disk.destinationPath));
    const consoleLog = `${lab.host('b').storageDir}/${name}_clone-console.log`;
    expect(clone.logFiles).toEqual([consoleLog]);

    const console = await lab.bootAndReadConsole('b', `${name}_clone`, consoleLog);
    expect(console).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);
    expect(console).toContain(`KVMCLONE-DATA-MARKER ${vm.dataMarker}`);

    expect(await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name)).toBe(sourceXml);
    expect(await lab.domainState('a', name)).toBe('shut off');
    expect([await sha256OfFile(`${vm.dir}/root.qcow2`), await sha256OfFile(`${vm.dir}/data.img`)]).toEqual(
      sourceDigests,
    );
  });

  it('refuses a VM that does not exist with code 1003', async () => {
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: 'no-such-vm' }),
    ).rejects.toMatchObject({
      code: ErrorCode.VM_NOT_FOUND_ERROR,
      message: expect.stringContaining("VM 'no-such-vm' does not exist"),
    });
  });

  it('refuses a destination name that is taken with code 1004, leaving the existing VM alone', async () => {
    const name = uniqueVmName('bravo');
    await lab.makeVm('a', name);
    const existing = await lab.makeVm('b', `${name}_clone`);
    const existingXml = await lab.virsh('b', 'dumpxml', '--inactive', '--domain', `${name}_clone`);
    await expect(testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name })).rejects.toMatchObject(
      {
        code: ErrorCode.VM_EXISTS_ERROR,
      },
    );
    expect(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', `${name}_clone`)).toBe(existingXml);
    expect((await stat(`${existing.dir}/root.qcow2`)).size).toBeGreaterThan(0);
  });

  it('reports an unreachable host with code 1002', async () => {
    const name = uniqueVmName('charlie');
    await lab.makeVm('a', name);
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'unreachable', vmName: name }),
    ).rejects.toMatchObject({
      code: ErrorCode.CONNECTION_ERROR,
    });
  });
});

describe('cloneVM with hostile names', () => {
  // libvirt refuses newlines in names and folds them to spaces in paths; its description keeps them.
  it('copies a VM whose name and disk paths hold spaces, quotes, ;, $(...), and whose description holds a newline, running nothing they contain', async () => {
    const name = `${uniqueVmName('weird')} it's "odd"; $(touch pwned-name) & <x>`;
    const hostA = lab.host('a');
    const dir = `${hostA.vmDir}/${uniqueVmName('dir')} with 'quotes' $(touch /tmp/pwned)`;
    const vm = await lab.makeVm('a', name, {
      dir,
      rootFile: 'root "disk" `touch pwned-tick`.qcow2',
      dataFile: 'data file;$(touch pwned-file).img',
      description: 'line one\n$(touch pwned-description)',
    });
    const sourceXml = await lab.virsh('a', 'dumpxml', '--inactive', '--domain', name);
    expect(parseDomainXml(sourceXml).disks[1]!.sourcePath).toBe(`${dir}/data file;$(touch pwned-file).img`);

    const result = await testEnvironment().client.clone({ source: 'a', destination: 'b', vmName: name });

    expect(result.newName).toBe(`${name}_clone`);
    for (const disk of result.files) expect(disk.digest?.destination).toBe(disk.digest?.source);
    expect(await lab.domainState('b', `${name}_clone`)).toBe('shut off');
    expect(await lab.virsh('b', 'desc', '--domain', `${name}_clone`)).toBe('line one\n$(touch pwned-description)');
    const consoleLog = `${lab.host('b').storageDir}/${name}_clone-console.log`;
    const console = await lab.bootAndReadConsole('b', `${name}_clone`, consoleLog);
    expect(console).toContain(`KVMCLONE-ROOT-MARKER ${vm.rootMarker}`);

    const pwned = await findPwnedMarkers([lab.file.labDir, '/tmp', process.cwd()]);
    expect(pwned).toEqual([]);
  });
});

describe('cloneVM and host keys', () => {
  it('fails with code 1103 when the destination presents a key that is not in known_hosts', async () => {
    const name = uniqueVmName('delta');
    await lab.makeVm('a', name);
    await writeFile(emptyKnownHosts, '');
    await expect(
      testEnvironment().client.clone({ source: 'a', destination: 'b-unknown-key', vmName: name }),
    ).rejects.toMatchObject({
      code: ErrorCode.HOST_KEY_ERROR,
    });
    expect(await lab.domainState('b', `${name}_clone`)).toBeUndefined();
  });
});

async function findPwnedMarkers(roots: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const root of roots) {
    const { stdout } = await run('find', [root, '-maxdepth', '6', '-name', 'pwned*', '-type', 'f']);
    found.push(...stdout.split('\n').filter(Boolean));
  }
  return found;
}
