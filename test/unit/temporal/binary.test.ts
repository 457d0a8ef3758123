import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import {
  findPackageRoot,
  findTemporalBinary,
  PROJECT_CACHE_BINARY,
  TEMPORAL_BIN_ENV,
  toEphemeralServerExecutable,
} from '../../../src/temporal/binary';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-binary-test-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function fakeExecutable(file: string, mode = 0o755): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, '#!/bin/sh\necho fake temporal\n');
  await chmod(file, mode);
  return file;
}

/** Every source populated, so each test removes the ones that should lose. */
async function everySource() {
  return {
    explicit: await fakeExecutable(path.join(root, 'configured', 'temporal-from-config')),
    env: await fakeExecutable(path.join(root, 'env', 'temporal')),
    onPath: await fakeExecutable(path.join(root, 'path-dir', 'temporal')),
    projectRoot: path.join(root, 'project'),
    cached: await fakeExecutable(path.join(root, 'project', PROJECT_CACHE_BINARY)),
  };
}

describe('findTemporalBinary lookup order', () => {
  it('prefers the explicit path over env, PATH and the project cache', async () => {
    const s = await everySource();
    const found = await findTemporalBinary({
      explicitPath: s.explicit,
      env: { [TEMPORAL_BIN_ENV]: s.env, PATH: path.dirname(s.onPath) },
      projectRoot: s.projectRoot,
    });
    expect(found).toEqual({ source: 'explicit', path: s.explicit });
  });

  it('uses KVM_CLONE_TEMPORAL_BIN when nothing is configured', async () => {
    const s = await everySource();
    const found = await findTemporalBinary({
      env: { [TEMPORAL_BIN_ENV]: s.env, PATH: path.dirname(s.onPath) },
      projectRoot: s.projectRoot,
    });
    expect(found).toEqual({ source: 'env', path: s.env });
  });

  it('then takes the first executable temporal on PATH', async () => {
    const s = await everySource();
    const notExecutable = await fakeExecutable(path.join(root, 'plain-file', 'temporal'), 0o644);
    const directoryNamedTemporal = path.join(root, 'dir-entry', 'temporal');
    await mkdir(directoryNamedTemporal, { recursive: true });
    const later = await fakeExecutable(path.join(root, 'later', 'temporal'));
    const searchPath = [
      path.join(root, 'empty'),
      path.dirname(notExecutable),
      path.dirname(directoryNamedTemporal),
      '',
      path.dirname(s.onPath),
      path.dirname(later),
    ].join(path.delimiter);

    const found = await findTemporalBinary({ env: { PATH: searchPath }, projectRoot: s.projectRoot });
    expect(found).toEqual({ source: 'path', path: s.onPath });
  });

  it('then the project cache', async () => {
    const s = await everySource();
    const found = await findTemporalBinary({ env: { PATH: path.join(root, 'empty') }, projectRoot: s.projectRoot });
    expect(found).toEqual({ source: 'project-cache', path: s.cached });
  });

  it('falls back to the SDK download, without a path, when there is no CLI anywhere', async () => {
    const found = await findTemporalBinary({ env: { PATH: path.join(root, 'empty') }, projectRoot: root });
    expect(found).toEqual({ source: 'sdk-download' });
    expect(found.path).toBeUndefined();
  });

  it('ignores a project cache entry that is not executable', async () => {
    await fakeExecutable(path.join(root, PROJECT_CACHE_BINARY), 0o644);
    const found = await findTemporalBinary({ env: {}, projectRoot: root });
    expect(found.source).toBe('sdk-download');
  });

  it('treats empty explicit and env values as unset', async () => {
    const s = await everySource();
    const found = await findTemporalBinary({
      explicitPath: '',
      env: { [TEMPORAL_BIN_ENV]: '  ', PATH: path.dirname(s.onPath) },
      projectRoot: s.projectRoot,
    });
    expect(found.source).toBe('path');
  });
});

describe('findTemporalBinary errors', () => {
  async function expectConfigurationError(lookup: Promise<unknown>, namedPath: string) {
    const error: unknown = await lookup.then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(KvmCloneError);
    expect((error as KvmCloneError).code).toBe(ErrorCode.CONFIGURATION_ERROR);
    expect((error as KvmCloneError).message).toContain(namedPath);
  }

  it('rejects an explicit path that does not exist instead of trying other sources', async () => {
    const s = await everySource();
    const missing = path.join(root, 'nowhere', 'temporal');
    await expectConfigurationError(
      findTemporalBinary({ explicitPath: missing, env: { [TEMPORAL_BIN_ENV]: s.env }, projectRoot: s.projectRoot }),
      missing,
    );
  });

  it('rejects an explicit path that is not executable', async () => {
    const plain = await fakeExecutable(path.join(root, 'temporal'), 0o644);
    await expectConfigurationError(findTemporalBinary({ explicitPath: plain, env: {} }), plain);
  });

  it('rejects an explicit path that is a directory', async () => {
    await expectConfigurationError(findTemporalBinary({ explicitPath: root, env: {} }), root);
  });

  it('rejects a KVM_CLONE_TEMPORAL_BIN that does not exist, even with temporal on PATH', async () => {
    const s = await everySource();
    const missing = path.join(root, 'missing-from-env');
    await expectConfigurationError(
      findTemporalBinary({ env: { [TEMPORAL_BIN_ENV]: missing, PATH: path.dirname(s.onPath) } }),
      missing,
    );
  });

  it('reports a relative explicit path resolved, so the message points at a real place', async () => {
    const relative = path.join('no-such-dir', 'temporal');
    await expectConfigurationError(findTemporalBinary({ explicitPath: relative, env: {} }), path.resolve(relative));
  });
});

describe('findPackageRoot', () => {
  it('walks up to the package.json named kvm-clone, past other packages', async () => {
    await writeFile(path.join(root, 'package.json'), JSON.stringify({ name: 'kvm-clone' }));
    const nested = path.join(root, 'node_modules', 'other', 'lib');
    await mkdir(nested, { recursive: true });
    await writeFile(path.join(root, 'node_modules', 'other', 'package.json'), JSON.stringify({ name: 'other' }));
    await writeFile(path.join(nested, 'package.json'), '{ not json');

    expect(await findPackageRoot(nested)).toBe(root);
  });

  it('finds this repository from the test file', async () => {
    const found = await findPackageRoot(__dirname);
    expect(found).toBe(path.resolve(__dirname, '..', '..', '..'));
  });

  it('returns undefined outside any kvm-clone package', async () => {
    expect(await findPackageRoot(root)).toBeUndefined();
  });
});

describe('toEphemeralServerExecutable', () => {
  it('hands a found CLI to the SDK as an existing path', () => {
    expect(toEphemeralServerExecutable({ source: 'project-cache', path: '/x/temporal' })).toEqual({
      type: 'existing-path',
      path: '/x/temporal',
    });
  });

  it('leaves the SDK to download when nothing was found', () => {
    expect(toEphemeralServerExecutable({ source: 'sdk-download' })).toEqual({ type: 'cached-download' });
  });
});
