/**
 * Attacks on what an operation writes, renames and removes on a destination host: paths
 * outside the host's writable roots (given directly, through `..`, or through a symlink
 * inside a root), renames and creations over files the operation did not make, force
 * deleting files the old VM does not own, and syncs writing into files that are not the
 * target's own. Each would have written, clobbered or deleted before; each must fail now
 * and leave the files as they were.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  checkDestination,
  type CheckDestinationInput,
  type DestinationCheck,
} from '../../../src/activities/check-destination';
import { createActivityDeps } from '../../../src/activities/deps';
import { finalizeFiles } from '../../../src/activities/finalize-files';
import { HostRegistry } from '../../../src/activities/host-registry';
import { inspectTarget } from '../../../src/activities/inspect-target';
import { prepareDisks } from '../../../src/activities/prepare-disks';
import { removeClone } from '../../../src/activities/remove-clone';
import { resizeFiles } from '../../../src/activities/resize-files';
import { parseDomainXml } from '../../../src/domain/domain-xml';
import { ErrorCode } from '../../../src/errors';
import { readCloneRecord, writeCloneRecord } from '../../../src/hosts/clone-record';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';
import { useTestEnvironment } from '../../helpers/temporal';
import { testLogger } from '../../helpers/test-log';

const lab = new Lab(inject('labFile'));
const b = lab.host('b');
const home = b.storageDir.replace(/\/images$/, '');
/** Where clones may write on host b: its images and vms dirs, and a scratch dir. */
const scratch = `${home}/scratch`;
const aliases = { ...lab.aliases(), b: lab.hostSpec('b', { writableDirs: [b.storageDir, b.vmDir, scratch] }) };
const deps = createActivityDeps({ hosts: new HostRegistry(aliases) });
const testEnvironment = useTestEnvironment(aliases);
/** A directory on host b that host b's user may write, but that no clone may: outside every root. */
const outside = `${home}/outside-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await lab.sshAs('b', `mkdir -p '${scratch}' '${outside}'`);
});

afterAll(async () => {
  deps.pool.closeAll();
  await lab.sshAs('b', `rm -rf '${outside}'`).catch(() => undefined);
});

function run<I, O>(activity: (input: I) => Promise<O>, input: I): Promise<O> {
  // The refusals these attacks provoke go to the test log, not the terminal.
  return new MockActivityEnvironment(undefined, { logger: testLogger() }).run(activity, input) as Promise<O>;
}

function refusedWith(code: number, message?: string | RegExp) {
  return {
    details: [expect.objectContaining({ code })],
    ...(message
      ? { message: typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message) }
      : {}),
  };
}

/** What is at a path on host b: its SHA-256 and kind, or 'missing'. */
async function stateOf(path: string): Promise<string> {
  return (
    await lab.sshAs(
      'b',
      `if [ -L '${path}' ]; then echo "symlink $(readlink '${path}')"; elif [ -f '${path}' ]; then sha256sum < '${path}'; elif [ -e '${path}' ]; then echo other; else echo missing; fi`,
    )
  ).trim();
}

async function listing(dir: string): Promise<string> {
  return lab.sshAs('b', `ls -A '${dir}'`);
}

async function victim(name: string, text = `precious ${randomUUID()}`): Promise<string> {
  const path = `${outside}/${name}`;
  await lab.sshAs('b', `printf %s '${text}' > '${path}'`);
  return path;
}

function destinationInput(overrides: Partial<CheckDestinationInput>): CheckDestinationInput {
  const name = uniqueVmName('dest');
  return {
    destination: 'b',
    newName: name,
    force: false,
    bytesNeeded: 1024 * 1024,
    fileNames: [`${name}.qcow2`],
    networks: [],
    referencedFiles: [],
    machine: { domainType: 'qemu' },
    ...overrides,
  };
}

describe('destination paths stay under the host writable roots', () => {
  it('attack: a clone with destDir /etc/cron.d is refused with 1302 and writes nothing there', async () => {
    const name = uniqueVmName('cron');
    const vm = await lab.makeVm('a', name);
    try {
      const before = await listing('/etc/cron.d').catch(() => '');
      await expect(
        testEnvironment().client.clone({
          source: 'a',
          destination: 'b',
          vmName: name,
          newName: `${name}-pwn`,
          destDir: '/etc/cron.d',
        }),
      ).rejects.toMatchObject({
        code: ErrorCode.INVALID_PATH,
        message: expect.stringContaining('/etc/cron.d'),
      });
      expect(await listing('/etc/cron.d').catch(() => '')).toBe(before);
      expect(await lab.domainState('b', `${name}-pwn`)).toBeUndefined();
    } finally {
      await lab.removeVm('a', vm);
    }
  });

  it('attack: a destDir that is a symlink inside a root leading out of it is refused with 1302, nothing written', async () => {
    const link = `${scratch}/leads-out-${randomUUID().slice(0, 8)}`;
    await lab.sshAs('b', `ln -s '${outside}' '${link}'`);
    try {
      const input = destinationInput({ destDir: link });
      await expect(run(checkDestination(deps), input)).rejects.toMatchObject(
        refusedWith(ErrorCode.INVALID_PATH, `resolves to "${outside}"`),
      );
      // The activities after preflight refuse the same path on their own.
      await expect(
        run(prepareDisks(deps), {
          destination: 'b',
          disks: [{ path: `${link}/${input.newName}.qcow2.kvm-clone-0a1b2c3d.part`, size: 1024 }],
        }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH));
      expect(await listing(outside)).toBe('');
    } finally {
      await lab.sshAs('b', `rm -f '${link}'`);
    }
  });

  it('attack: a destination file name that is not one safe path component is refused with 1302', async () => {
    for (const fileName of ['../../../etc/cron.d/pwn', 'a/b.qcow2', '..', 'x\ny.qcow2']) {
      await expect(run(checkDestination(deps), destinationInput({ fileNames: [fileName] }))).rejects.toMatchObject(
        refusedWith(ErrorCode.INVALID_PATH, 'not a single safe path component'),
      );
    }
  });

  it('attack: a destPool that is not a writable pool and whose directory lies outside the roots is refused with 1302', async () => {
    const pool = uniqueVmName('outpool');
    await lab.virsh('b', 'pool-define-as', '--name', pool, '--type', 'dir', '--target', outside);
    try {
      await expect(run(checkDestination(deps), destinationInput({ destPool: pool }))).rejects.toMatchObject(
        refusedWith(ErrorCode.INVALID_PATH, `storage pool '${pool}' is not one clones may write into`),
      );
      expect(await listing(outside)).toBe('');
    } finally {
      await lab.virsh('b', 'pool-undefine', '--pool', pool).catch(() => undefined);
    }
  });

  it('attack: prepareDisks, finalizeFiles, resizeFiles and removeClone with a path outside the roots are 1302 and touch nothing', async () => {
    const target = await victim('victim.img');
    const before = await stateOf(target);
    const walkedOut = `${b.storageDir}/../${outside.split('/').pop()}/victim.img`;
    const partial = `${b.storageDir}/walk-${randomUUID().slice(0, 8)}.qcow2.kvm-clone-0a1b2c3d.part`;
    await lab.sshAs('b', `printf copy > '${partial}'`);
    try {
      await expect(
        run(prepareDisks(deps), { destination: 'b', disks: [{ path: walkedOut, size: 1024 }] }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH));
      await expect(
        run(finalizeFiles(deps), {
          destination: 'b',
          renames: [{ from: partial, to: walkedOut }],
          chains: [],
          flatten: false,
        }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH));
      await expect(
        run(resizeFiles(deps), { destination: 'b', files: [{ path: target, size: 0 }] }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH));
      await expect(run(removeClone(deps), { destination: 'b', paths: [target] })).rejects.toMatchObject(
        refusedWith(ErrorCode.INVALID_PATH),
      );
      await expect(
        run(removeClone(deps), { destination: 'b', paths: [], directories: [outside] }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH));
      // A directory removed whole must be TPM state, never a disk directory inside a root.
      await expect(
        run(removeClone(deps), { destination: 'b', paths: [], directories: [b.vmDir] }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH));
      expect(await stateOf(target)).toBe(before);
      expect(await stateOf(partial)).not.toBe('missing');
    } finally {
      await lab.sshAs('b', `rm -f '${partial}'`);
    }
  });
});

describe('nothing clobbers or deletes a file the operation did not make', () => {
  it('attack: renaming a copy onto an existing file is 1004 naming it, and the file stays intact', async () => {
    const id = randomUUID().slice(0, 8);
    const existing = `${b.storageDir}/someone-${id}.qcow2`;
    const partial = `${existing}.kvm-clone-0a1b2c3d.part`;
    await lab.sshAs('b', `printf theirs > '${existing}' && printf ours > '${partial}'`);
    try {
      const before = await stateOf(existing);
      await expect(
        run(finalizeFiles(deps), {
          destination: 'b',
          renames: [{ from: partial, to: existing }],
          chains: [],
          flatten: false,
        }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.VM_EXISTS_ERROR, existing));
      expect(await stateOf(existing)).toBe(before);
      expect(await stateOf(partial)).not.toBe('missing');
    } finally {
      await lab.sshAs('b', `rm -f '${existing}' '${partial}'`);
    }
  });

  it('a rename retried after a lost reply (copy gone, final name there) succeeds', async () => {
    const final = `${b.storageDir}/retry-${randomUUID().slice(0, 8)}.qcow2`;
    const partial = `${final}.kvm-clone-0a1b2c3d.part`;
    await lab.sshAs('b', `printf ours > '${partial}'`);
    try {
      await run(finalizeFiles(deps), {
        destination: 'b',
        renames: [{ from: partial, to: final }],
        chains: [],
        flatten: false,
      });
      const renamed = await stateOf(final);
      await run(finalizeFiles(deps), {
        destination: 'b',
        renames: [{ from: partial, to: final }],
        chains: [],
        flatten: false,
      });
      expect(await stateOf(final)).toBe(renamed);
      expect(await stateOf(partial)).toBe('missing');
    } finally {
      await lab.sshAs('b', `rm -f '${final}' '${partial}'`);
    }
  });

  it('attack: prepareDisks over an existing file, or through a symlink at a partial path, is 1004 and writes nothing', async () => {
    const id = randomUUID().slice(0, 8);
    const existing = `${b.storageDir}/existing-${id}.raw`;
    const link = `${b.storageDir}/linked-${id}.qcow2.kvm-clone-0a1b2c3d.part`;
    const target = await victim(`linked-${id}`);
    await lab.sshAs('b', `printf theirs > '${existing}' && ln -s '${b.vmDir}/../images/existing-${id}.raw' '${link}'`);
    try {
      const before = await stateOf(existing);
      await expect(
        run(prepareDisks(deps), { destination: 'b', disks: [{ path: existing, size: 1 << 20 }] }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.VM_EXISTS_ERROR, existing));
      await expect(
        run(prepareDisks(deps), { destination: 'b', disks: [{ path: link, size: 1 << 20 }] }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.VM_EXISTS_ERROR, link));
      expect(await stateOf(existing)).toBe(before);
      // A symlink leading out of the roots is refused before that: 1302.
      await lab.sshAs('b', `ln -sfn '${target}' '${link}'`);
      await expect(
        run(prepareDisks(deps), { destination: 'b', disks: [{ path: link, size: 1 << 20 }] }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH));
      expect(await stateOf(target)).toMatch(/^[0-9a-f]{64}/);
    } finally {
      await lab.sshAs('b', `rm -f '${existing}' '${link}'`);
    }
  });

  it('a retried prepareDisks recreates its own partial copy', async () => {
    const partial = `${b.storageDir}/again-${randomUUID().slice(0, 8)}.qcow2.kvm-clone-0a1b2c3d.part`;
    try {
      await run(prepareDisks(deps), { destination: 'b', disks: [{ path: partial, size: 1 << 20 }] });
      await lab.sshAs('b', `printf stale | dd of='${partial}' conv=notrunc status=none`);
      await run(prepareDisks(deps), { destination: 'b', disks: [{ path: partial, size: 2 << 20 }] });
      expect(
        (await lab.sshAs('b', `stat -c %s '${partial}' && head -c 5 '${partial}' | od -An -c | tr -d ' \\n'`)).split(
          '\n',
        )[0],
      ).toBe(String(2 << 20));
    } finally {
      await lab.sshAs('b', `rm -f '${partial}'`);
    }
  });

  it('attack: removeClone and resizeFiles do not act through a symlink inside a root; the file behind it is intact', async () => {
    const id = randomUUID().slice(0, 8);
    const file = `${b.storageDir}/behind-${id}.raw`;
    const link = `${b.storageDir}/link-${id}.raw`;
    await lab.sshAs('b', `printf theirs > '${file}' && ln -s '${file}' '${link}'`);
    try {
      const before = await stateOf(file);
      await run(removeClone(deps), { destination: 'b', paths: [link] });
      await expect(
        run(resizeFiles(deps), { destination: 'b', files: [{ path: link, size: 0 }] }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH, 'symlink'));
      expect(await stateOf(file)).toBe(before);
      expect(await stateOf(link)).toBe(`symlink ${file}`);
    } finally {
      await lab.sshAs('b', `rm -f '${file}' '${link}'`);
    }
  });
});

describe('force replaces only what the old VM owns', () => {
  let old: LabVm;
  let other: LabVm;
  let chained: LabVm;
  let shared: string;
  let readOnly: string;
  let base: string;
  let out: string;

  beforeAll(async () => {
    const name = uniqueVmName('old');
    old = await lab.makeVm('b', name);
    other = await lab.makeVm('b', uniqueVmName('other'));
    chained = await lab.makeVm('b', uniqueVmName('chained'));
    shared = `${old.dir}/shared.raw`;
    readOnly = `${old.dir}/golden.raw`;
    base = `${old.dir}/base-of-another.raw`;
    out = `${outside}/old-disk.raw`;
    await lab.sshAs(
      'b',
      `for f in '${shared}' '${readOnly}' '${base}' '${out}'; do printf '%s' "$f" > "$f"; truncate -s 1M "$f"; done`,
    );
    await lab.sshAs('b', `qemu-img create -q -f qcow2 -b '${base}' -F raw '${chained.dir}/overlay.qcow2'`);
    const attach = (vm: string, file: string, target: string, ...extra: string[]) =>
      lab.virsh('b', 'attach-disk', '--domain', vm, file, target, '--config', '--targetbus', 'virtio', ...extra);
    await attach(old.name, shared, 'vdc', '--subdriver', 'raw');
    await attach(other.name, shared, 'vdc', '--subdriver', 'raw');
    await attach(old.name, readOnly, 'vdd', '--subdriver', 'raw', '--mode', 'readonly');
    await attach(old.name, base, 'vde', '--subdriver', 'raw');
    await attach(chained.name, `${chained.dir}/overlay.qcow2`, 'vdc', '--subdriver', 'qcow2');
    await attach(old.name, out, 'vdf', '--subdriver', 'raw');
  });

  afterAll(async () => {
    for (const vm of [old, other, chained]) if (vm) await lab.removeVm('b', vm);
  });

  it('attack: force over a VM whose disks are shared with another domain, read-only, another VM’s base, or outside the roots deletes none of them', async () => {
    const before = await Promise.all([shared, readOnly, base, out].map(stateOf));
    const domain = parseDomainXml(await lab.virsh('b', 'dumpxml', '--inactive', '--domain', old.name));
    const check = (await run(checkDestination(deps), {
      destination: 'b',
      newName: old.name,
      force: true,
      bytesNeeded: 1024 * 1024,
      fileNames: [`${old.name}-new.qcow2`],
      networks: [],
      referencedFiles: [],
      machine: {
        domainType: domain.domainType,
        ...(domain.emulator ? { emulator: domain.emulator } : {}),
        ...(domain.arch ? { arch: domain.arch } : {}),
      },
    })) as DestinationCheck;

    expect(check.replaced?.paths.sort()).toEqual([old.dataPath, old.rootPath].sort());
    expect(check.replaced?.kept).toEqual(
      expect.arrayContaining([
        { path: shared, reason: 'another domain on this host uses it' },
        { path: readOnly, reason: 'it is a read-only disk' },
        { path: base, reason: 'another domain on this host uses it' },
        { path: out, reason: expect.stringContaining('outside') },
      ]),
    );
    expect(check.warnings.join('\n')).toContain(`${shared} of the replaced VM '${old.name}' is left in place`);

    // The removal force does, and the one the old code did (every disk of the old VM), in turn.
    await run(removeClone(deps), { destination: 'b', paths: check.replaced!.paths });
    await expect(
      run(removeClone(deps), { destination: 'b', paths: domain.disks.map((disk) => disk.sourcePath!) }),
    ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH, out));
    expect(await Promise.all([shared, readOnly, base, out].map(stateOf))).toEqual(before);
    expect(await stateOf(old.rootPath)).toBe('missing');
  });
});

describe('a sync writes only into the target’s own files', () => {
  /** A VM on host a and a same-named target on host b made by hand (not by a clone), with what its record says. */
  async function handMadeTarget(
    prefix: string,
    options: Parameters<Lab['makeVm']>[2],
    record?: (target: LabVm) => string[],
  ): Promise<{ source: LabVm; target: LabVm }> {
    const name = uniqueVmName(prefix);
    const source = await lab.makeVm('a', name, options);
    const target = await lab.makeVm('b', name, options);
    if (record)
      await deps.pool.withSession(deps.hosts.resolve('b'), (session) =>
        writeCloneRecord(session, name, { operation: 'clone-by-hand', files: record(target) }),
      );
    return { source, target };
  }

  async function filesOf(vm: LabVm): Promise<string[]> {
    return Promise.all([vm.rootPath, vm.dataPath, ...(vm.basePath ? [vm.basePath] : [])].map(stateOf));
  }

  it('attack: a sync into a target on a shared base image is 1201 naming the base, and the base is unchanged', async () => {
    const { source, target } = await handMadeTarget('sharedbase', { backing: true }, (vm) => [
      vm.rootPath,
      vm.dataPath,
    ]);
    try {
      const before = await filesOf(target);
      await expect(
        testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: source.name }),
      ).rejects.toMatchObject({
        code: ErrorCode.SYNC_ERROR,
        message: expect.stringContaining(target.basePath!),
      });
      expect(await filesOf(target)).toEqual(before);
      expect(await lab.virsh('b', 'desc', '--domain', target.name, '--title')).not.toContain('incomplete');
    } finally {
      await lab.removeVm('a', source);
      await lab.removeVm('b', target);
    }
  });

  it('attack: a sync into a target without the record of a clone is 1201, and its files are unchanged', async () => {
    const { source, target } = await handMadeTarget('norecord', {});
    try {
      const before = await filesOf(target);
      await expect(
        testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: source.name }),
      ).rejects.toMatchObject({
        code: ErrorCode.SYNC_ERROR,
        message: expect.stringContaining('carries no record'),
      });
      expect(await filesOf(target)).toEqual(before);
    } finally {
      await lab.removeVm('a', source);
      await lab.removeVm('b', target);
    }
  });

  it('attack: a sync target whose disk lies outside the writable roots is 1302, even with a record naming it', async () => {
    const { source, target } = await handMadeTarget('outroot', { dir: `${outside}/${uniqueVmName('t')}` }, (vm) => [
      vm.rootPath,
      vm.dataPath,
    ]);
    try {
      const before = await filesOf(target);
      await expect(
        run(inspectTarget(deps), { destination: 'b', targetName: target.name, operationId: 'attack' }),
      ).rejects.toMatchObject(refusedWith(ErrorCode.INVALID_PATH, target.rootPath));
      expect(await filesOf(target)).toEqual(before);
    } finally {
      await lab.removeVm('a', source);
      await lab.removeVm('b', target);
    }
  });

  it('a clone carries the record of the files it made, backing layers included, so it can be synced, and a sync keeps it', async () => {
    const name = uniqueVmName('recclone');
    const vm = await lab.makeVm('a', name, { backing: true });
    try {
      const clone = await testEnvironment().client.clone({
        source: 'a',
        destination: 'b',
        vmName: name,
        newName: name,
      });
      const record = () => deps.pool.withSession(deps.hosts.resolve('b'), (session) => readCloneRecord(session, name));
      expect((await record())?.files).toEqual(clone.files.map((file) => file.destinationPath).sort());
      expect(clone.files.some((file) => file.role === 'backing')).toBe(true);
      const synced = await testEnvironment().client.sync({ source: 'a', destination: 'b', vmName: name });
      expect(synced.success).toBe(true);
      expect((await record())?.files).toEqual(clone.files.map((file) => file.destinationPath).sort());
    } finally {
      await lab.virsh('b', 'undefine', '--domain', name).catch(() => undefined);
      await lab.removeVm('a', vm);
    }
  });

  it('a target whose files the record lists passes inspection', async () => {
    const { source, target } = await handMadeTarget('recorded', { backing: true }, (vm) => [
      vm.rootPath,
      vm.dataPath,
      vm.basePath!,
    ]);
    try {
      const inspection = await run(inspectTarget(deps), {
        destination: 'b',
        targetName: target.name,
        operationId: 'recorded',
      });
      expect(inspection.files.map((file) => file.sourcePath)).toEqual([
        target.rootPath,
        target.basePath,
        target.dataPath,
      ]);
    } finally {
      await lab.removeVm('a', source);
      await lab.removeVm('b', target);
    }
  });
});
