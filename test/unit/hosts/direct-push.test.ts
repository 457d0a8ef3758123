import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Client } from 'ssh2';
import { describe, expect, it, vi } from 'vitest';
import { directRouteSchema } from '../../../src/domain/schemas/direct-route';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { ErrorCode } from '../../../src/errors';
import { pushCommand, pushExtents, resolveRoute, sshCommand, type ResolvedRoute } from '../../../src/hosts/direct-push';
import { SshSession } from '../../../src/hosts/ssh-session';
import { bashPipefail, readFramedExtentsScript, writeFramedExtentsScript } from '../../../src/hosts/extent-relay';

const destination = hostSpecSchema.parse({ address: 'dst.example', port: 2222, user: 'kvm' });
const route: ResolvedRoute = { address: 'dst.example', port: 2222, user: 'kvm', hostKeyPolicy: 'strict' };
const extents = [
  { start: 0, length: 4096 },
  { start: 1_048_576, length: 8192 },
];
const sourcePath = "/images/it's a disk.img";
const destinationPath = '/images/$(reboot) copy.img';

/** The words bash hands to `ssh` when it runs `command`, with ssh replaced by a printer. */
function sshArgv(command: string): string[] {
  const output = execFileSync('bash', ['-c', `ssh() { printf '%s\\0' "$@"; }; ${command}`]);
  return output.toString('utf8').split('\0').slice(0, -1);
}

/** The script that `bash -c` runs, unquoted again. */
function bashScript(command: string): string {
  const match = /^bash -c '(.*)'$/s.exec(command);
  expect(match, command).not.toBeNull();
  return match![1]!.replace(/'\\''/g, "'");
}

describe('directRouteSchema', () => {
  it('accepts an empty route: everything defaults to the destination', () => {
    expect(directRouteSchema.parse({})).toEqual({});
  });

  it('takes absolute paths that OpenSSH can carry in an option', () => {
    const parsed = directRouteSchema.parse({
      identityFile: '/root/.ssh/id_ed25519',
      knownHostsFile: '/etc/kvm-clone/known_hosts',
      hostKeyPolicy: 'accept-new',
    });
    expect(parsed.hostKeyPolicy).toBe('accept-new');
  });

  it.each(['relative/key', '/keys/my key', '/keys/%h', '/keys/${HOME}', '/a/../b'])('refuses the path %s', (path) => {
    expect(directRouteSchema.safeParse({ identityFile: path }).success).toBe(false);
    expect(directRouteSchema.safeParse({ knownHostsFile: path }).success).toBe(false);
  });

  it('refuses unknown keys, bad ports, users and policies', () => {
    expect(directRouteSchema.safeParse({ agentForwarding: true }).success).toBe(false);
    expect(directRouteSchema.safeParse({ port: 0 }).success).toBe(false);
    expect(directRouteSchema.safeParse({ user: '-oProxyCommand=x' }).success).toBe(false);
    expect(directRouteSchema.safeParse({ address: '-oProxyCommand=x' }).success).toBe(false);
    expect(directRouteSchema.safeParse({ hostKeyPolicy: 'none' }).success).toBe(false);
  });
});

describe('resolveRoute', () => {
  it('fills address, port and user from the destination, and is strict by default', () => {
    expect(resolveRoute(destination, {})).toEqual(route);
  });

  it('keeps what the route sets', () => {
    const resolved = resolveRoute(destination, {
      address: '10.0.0.7',
      port: 22,
      user: 'root',
      identityFile: '/k',
      knownHostsFile: '/kh',
      hostKeyPolicy: 'accept-new',
    });
    expect(resolved).toEqual({
      address: '10.0.0.7',
      port: 22,
      user: 'root',
      identityFile: '/k',
      knownHostsFile: '/kh',
      hostKeyPolicy: 'accept-new',
    });
  });
});

describe('sshCommand', () => {
  it('runs in batch mode with strict host-key checking and passes the remote command as one word', () => {
    const remote = sh`dd of=${destinationPath} && echo ${"it's done"}`;
    const argv = sshArgv(sshCommand(route, remote).text);
    expect(argv.slice(-2)).toEqual(['kvm@dst.example', remote.text]);
    expect(argv).toContain('BatchMode=yes');
    expect(argv).toContain('StrictHostKeyChecking=yes');
    expect(argv).toContain('Compression=no');
    expect(argv.join(' ')).toContain('-p 2222 kvm@dst.example');
    expect(argv).not.toContain('-i');
    expect(argv.some((arg) => arg.startsWith('UserKnownHostsFile='))).toBe(false);
  });

  it('adds the key, the known_hosts file and accept-new when the route has them', () => {
    const argv = sshArgv(
      sshCommand(
        { ...route, identityFile: '/keys/id', knownHostsFile: '/keys/known', hostKeyPolicy: 'accept-new' },
        sh`true`,
      ).text,
    );
    expect(argv.join(' ')).toContain('-i /keys/id -o IdentitiesOnly=yes -o UserKnownHostsFile=/keys/known');
    expect(argv).toContain('StrictHostKeyChecking=accept-new');
  });

  it('hands ssh an IPv6 address without brackets', () => {
    expect(sshArgv(sshCommand({ ...route, address: '[fd00::7]' }, sh`true`).text)).toContain('kvm@fd00::7');
  });
});

describe('pushCommand', () => {
  const write = (codec: 'none' | 'zstd') =>
    bashPipefail(writeFramedExtentsScript(destinationPath, extents, codec)).text;

  it('pipes the framed extents into ssh under pipefail, with a watchdog for a closed channel', () => {
    const script = bashScript(pushCommand({ route, sourcePath, destinationPath, extents }).text);
    expect(
      script.startsWith('set -o pipefail; { cat >/dev/null; kill -TERM 0; } <&0 >/dev/null 2>&1 & watchdog=$!; '),
    ).toBe(true);
    expect(script).toContain(`${readFramedExtentsScript(sourcePath, extents, 'none').text} | ssh `);
    expect(script).toContain('printf %s KVM-CLONE-END-OF-EXTENTS');
    expect(script).not.toContain('tee');
    expect(script.endsWith('>&2; status=$?; kill $watchdog 2>/dev/null; exit $status')).toBe(true);
  });

  it('sends the destination the framed write command as one word', () => {
    const script = bashScript(pushCommand({ route, sourcePath, destinationPath, extents, compression: 'zstd' }).text);
    const sshPart = script.slice(script.indexOf('| ssh ') + 2, script.lastIndexOf(' >&2; }'));
    expect(sshArgv(sshPart).at(-1)).toBe(write('zstd'));
  });

  it('counts the compressed bytes on stdout when compressing', () => {
    const script = bashScript(pushCommand({ route, sourcePath, destinationPath, extents, compression: 'zstd' }).text);
    expect(script).toContain(
      `{ ${readFramedExtentsScript(sourcePath, extents, 'zstd').text} | tee >(wc -c >&3) | ssh `,
    );
    expect(script).toContain('>&2; } 3>&1; status=$?');
    expect(script).toContain('zstd -1 -T0 -c -q | tee');
  });

  it('writes uncompressed streams with the same length check', () => {
    const script = bashScript(pushCommand({ route, sourcePath, destinationPath, extents }).text);
    const sshPart = script.slice(script.indexOf('| ssh ') + 2, script.lastIndexOf(' >&2; status'));
    const remote = sshArgv(sshPart).at(-1)!;
    expect(remote).toBe(write('none'));
    expect(remote).toContain('[ "$(head -c 25 | wc -c)" -eq 24 ]');
    expect(remote).not.toContain('zstd');
  });
});

describe('pushExtents progress', () => {
  it('ticks every few seconds while a slow batch is pushed, so the activity keeps heartbeating', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      // The source's channel: it runs for a while, then the push exits 0.
      const channel = Object.assign(new EventEmitter(), { stderr: new EventEmitter(), close: () => undefined });
      const client = Object.assign(new EventEmitter(), {
        exec: (_command: string, callback: (error: Error | undefined, opened: typeof channel) => void) =>
          callback(undefined, channel),
      });
      const source = new SshSession(hostSpecSchema.parse({ address: 'src.example' }), client as unknown as Client);
      let ticks = 0;
      const push = pushExtents({
        source,
        destinationHost: destination,
        route: {},
        sourcePath,
        destinationPath,
        extents,
        onTick: () => ticks++,
      });
      await vi.advanceTimersByTimeAsync(60_000);
      expect(ticks).toBe(12);
      channel.emit('exit', 0);
      channel.emit('close');
      await expect(push).resolves.toEqual({ dataBytes: 12288, wireBytes: 12288 });
      await vi.advanceTimersByTimeAsync(60_000);
      expect(ticks).toBe(12);
    } finally {
      vi.useRealTimers();
    }
  });

  it('fails with 1204 when the dd on the destination found no room, with 1006 for other failures of the pipeline', async () => {
    for (const [stderr, code] of [
      ["dd: error writing '/images/copy.img': No space left on device", ErrorCode.DISK_SPACE_ERROR],
      ['kvm-clone: the stream from the source did not hold exactly the 12288 bytes expected', ErrorCode.TRANSFER_ERROR],
    ] as const) {
      const channel = Object.assign(new EventEmitter(), { stderr: new EventEmitter(), close: () => undefined });
      const client = Object.assign(new EventEmitter(), {
        exec: (_command: string, callback: (error: Error | undefined, opened: typeof channel) => void) =>
          callback(undefined, channel),
      });
      const source = new SshSession(hostSpecSchema.parse({ address: 'src.example' }), client as unknown as Client);
      const push = pushExtents({
        source,
        destinationHost: destination,
        route: {},
        sourcePath,
        destinationPath,
        extents,
      });
      await new Promise((resolve) => setImmediate(resolve));
      channel.stderr.emit('data', Buffer.from(stderr));
      channel.emit('exit', 1);
      channel.emit('close');
      await expect(push).rejects.toMatchObject({ code, message: expect.stringContaining(stderr) });
    }
  });

  it('closes its channel when the operation was cancelled while the channel opened (no abort event reaches it then)', async () => {
    const controller = new AbortController();
    let closed = false;
    const channel = Object.assign(new EventEmitter(), {
      stderr: new EventEmitter(),
      close: () => {
        closed = true;
        channel.emit('close');
      },
    });
    const client = Object.assign(new EventEmitter(), {
      exec: (_command: string, callback: (error: Error | undefined, opened: typeof channel) => void) => {
        controller.abort(new Error('cancelled'));
        callback(undefined, channel);
      },
    });
    const source = new SshSession(hostSpecSchema.parse({ address: 'src.example' }), client as unknown as Client);
    const push = pushExtents({
      source,
      destinationHost: destination,
      route: {},
      sourcePath,
      destinationPath,
      extents,
      signal: controller.signal,
    });
    await expect(push).rejects.toThrow('cancelled');
    expect(closed).toBe(true);
  });
});
