import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { CompressionCodec } from '../../../src/domain/compression';
import type { DirectRoute } from '../../../src/domain/schemas/direct-route';
import { hostSpecSchema, type HostSpec } from '../../../src/domain/schemas/host';
import { joinShell, sh, type ShellFragment } from '../../../src/domain/shell-quote';
import { MiB, totalLength, type Extent } from '../../../src/domain/transfer-plan';
import { ErrorCode } from '../../../src/errors';
import { pushExtents, type PushOptions } from '../../../src/hosts/direct-push';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session';
import { Lab } from '../../helpers/lab';
import { dataLayout, sha256OfFile, sparseTestExtents, sparseTestFileSize } from '../../helpers/local-files';

const run = promisify(execFile);
const lab = new Lab(inject('labFile'));
const suffix = Math.random().toString(36).slice(2, 8);
const sourceDir = lab.host('a').storageDir;
const sourcePath = `${sourceDir}/direct-source-${suffix}.img`;
const destinationPath = (name: string) => `${lab.host('b').storageDir}/direct-${name}-${suffix}.img`;
const fileSize = sparseTestFileSize;
const extents = sparseTestExtents;
const codecs: CompressionCodec[] = ['none', 'zstd', 'lz4'];

let source: SshSession;
let destinationHost: HostSpec;
const sourceFiles: string[] = [];
const destinations: string[] = [];

async function freshDestination(name: string): Promise<string> {
  const path = destinationPath(name);
  destinations.push(path);
  await lab.sshAs('b', sh`rm -f ${path} && truncate -s ${fileSize} ${path}`.text);
  return path;
}

/**
 * Runs a command as the lab user of host a. Through OpenSSH rather than `source`: the
 * ssh2 session only carries the pushes under test.
 */
function onSource(command: ShellFragment): Promise<string> {
  return lab.sshAs('a', command.text);
}

/** A file on the source host, as its user, for the routes that need one there. */
async function sourceFile(name: string, command: (path: string) => ShellFragment): Promise<string> {
  const path = `${sourceDir}/direct-${name}-${suffix}`;
  sourceFiles.push(path, `${path}.pub`);
  await onSource(command(path));
  return path;
}

function push(overrides: Partial<PushOptions> & { destinationPath: string }) {
  return pushExtents({ source, destinationHost, route: lab.directRoute('a', 'b'), sourcePath, extents, ...overrides });
}

function route(overrides: Partial<DirectRoute>): DirectRoute {
  return lab.directRoute('a', 'b', overrides);
}

/** Processes of the lab user on a host whose command line mentions `text`. */
async function processesMentioning(host: string, text: string): Promise<string> {
  const { stdout } = await run('ps', ['-u', lab.host(host).user, '-o', 'pid=,args=']);
  return stdout
    .split('\n')
    .filter((line) => line.includes(text))
    .join('\n');
}

beforeAll(async () => {
  source = await openSshSession(hostSpecSchema.parse(lab.hostSpec('a')));
  destinationHost = hostSpecSchema.parse(lab.hostSpec('b'));
  const [random, text, moreRandom, moreText] = extents as [Extent, Extent, Extent, Extent];
  const fill = (input: ShellFragment, extent: Extent) =>
    sh`${input} | head -c ${extent.length} | dd of=${sourcePath} bs=1M iflag=fullblock oflag=seek_bytes seek=${extent.start} conv=notrunc status=none`;
  await onSource(
    joinShell(
      [
        sh`rm -f ${sourcePath}`,
        sh`truncate -s ${fileSize} ${sourcePath}`,
        fill(sh`cat /dev/urandom`, random),
        fill(sh`yes kvm-clone-direct`, text),
        fill(sh`cat /dev/urandom`, moreRandom),
        fill(sh`seq 1 1000000000`, moreText),
      ],
      ' && ',
    ),
  );
  expect(await dataLayout(sourcePath)).toEqual(extents);
});

afterAll(async () => {
  await onSource(sh`rm -f ${[sourcePath, ...sourceFiles]}`);
  if (destinations.length > 0) await lab.sshAs('b', sh`rm -f ${destinations}`.text);
  source?.close();
});

describe('pushing extents from one lab host straight to another', () => {
  it.each(codecs)('copies data and keeps holes, compression %s', async (compression) => {
    const path = await freshDestination(compression);
    const result = await push({ destinationPath: path, compression });

    expect(await sha256OfFile(path)).toBe(await sha256OfFile(sourcePath));
    expect(await dataLayout(path)).toEqual(extents);
    expect(result.dataBytes).toBe(totalLength(extents));
    if (compression === 'none') {
      expect(result.wireBytes).toBe(result.dataBytes);
    } else {
      // 1.25 MiB is random; the 3 MiB of text shrink to almost nothing.
      expect(result.wireBytes).toBeGreaterThan(MiB);
      expect(result.wireBytes).toBeLessThan(2 * MiB);
    }
  });

  it('records an unknown host key under the accept-new policy', async () => {
    const knownHosts = await sourceFile('accept-new-known-hosts', (path) => sh`: >${path}`);
    const path = await freshDestination('accept-new');
    await push({ destinationPath: path, route: route({ knownHostsFile: knownHosts, hostKeyPolicy: 'accept-new' }) });
    expect(await sha256OfFile(path)).toBe(await sha256OfFile(sourcePath));
    // Debian's ssh_config hashes the names it records, so ask ssh-keygen to find it.
    expect(await onSource(sh`ssh-keygen -F ${'[127.0.0.3]:2222'} -f ${knownHosts}`)).toContain('ssh-ed25519 ');
  });

  it('refuses an unknown host key with code 1103, not retryable', async () => {
    const knownHosts = await sourceFile('empty-known-hosts', (path) => sh`: >${path}`);
    const error = await push({
      destinationPath: destinationPath('unused'),
      route: route({ knownHostsFile: knownHosts }),
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: ErrorCode.HOST_KEY_ERROR,
      retryable: false,
      message: expect.stringContaining('Host key verification failed'),
    });
  });

  it('fails with code 1100, not retryable, for a user the destination does not allow', async () => {
    const error = await push({
      destinationPath: destinationPath('unused'),
      route: route({ user: lab.host('a').user }),
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: ErrorCode.AUTH_ERROR,
      retryable: false,
      message: expect.stringContaining('Permission denied'),
    });
  });

  it('fails with code 1100 for a key the destination does not know', async () => {
    const key = await sourceFile('stranger-key', (path) => sh`ssh-keygen -q -t ed25519 -N '' -f ${path}`);
    const error = await push({ destinationPath: destinationPath('unused'), route: route({ identityFile: key }) }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: ErrorCode.AUTH_ERROR, retryable: false });
  });

  it('fails with code 1002, retryable, when the port refuses connections', async () => {
    const error = await push({ destinationPath: destinationPath('unused'), route: route({ port: 2223 }) }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({
      code: ErrorCode.CONNECTION_ERROR,
      retryable: true,
      message: expect.stringContaining('Connection refused'),
    });
  });

  it.each(codecs)(
    'fails with code 1006, with the destination stderr, when the destination cannot be written, compression %s',
    async (compression) => {
      const path = `${lab.host('b').storageDir}/no-such-dir-${suffix}/disk.img`;
      await expect(push({ destinationPath: path, compression })).rejects.toMatchObject({
        code: ErrorCode.TRANSFER_ERROR,
        message: expect.stringMatching(/failed: .*No such file or directory/),
      });
    },
  );

  it.each(codecs)(
    'fails with code 1006 when the source is shorter than the extents, compression %s',
    async (compression) => {
      const path = await freshDestination(`short-${compression}`);
      const pastTheEnd = [{ start: 22 * MiB, length: 4 * MiB }];
      await expect(push({ destinationPath: path, compression, extents: pastTheEnd })).rejects.toMatchObject({
        code: ErrorCode.TRANSFER_ERROR,
        message: expect.stringContaining('did not hold exactly the 4194304 bytes'),
      });
    },
  );

  it('ends the processes on both hosts when cancelled', async () => {
    // Reading a FIFO that nobody writes blocks forever: a push that only cancellation ends.
    const fifo = await sourceFile('fifo', (path) => sh`rm -f ${path} && mkfifo ${path}`);
    const path = await freshDestination('cancelled');
    const controller = new AbortController();
    const pushing = push({ sourcePath: fifo, destinationPath: path, signal: controller.signal });
    // Until the destination's dd runs, the whole pipeline is up.
    for (let tries = 0; !(await processesMentioning('b', path)); tries += 1) {
      if (tries > 100) throw new Error('the push never reached the destination');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    controller.abort();
    await expect(pushing).rejects.toMatchObject({ name: 'AbortError' });
    await expect.poll(() => processesMentioning('a', fifo), { timeout: 10_000 }).toBe('');
    await expect.poll(() => processesMentioning('b', path), { timeout: 10_000 }).toBe('');
  });
});
