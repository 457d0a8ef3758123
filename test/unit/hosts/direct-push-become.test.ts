import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Client } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { hostSpecSchema, type HostSpecInput } from '../../../src/domain/schemas/host';
import { ErrorCode } from '../../../src/errors';
import { pushCommand, pushExtents, type ResolvedRoute } from '../../../src/hosts/direct-push';
import { bashPipefail, writeFramedExtentsScript } from '../../../src/hosts/extent-relay';
import { SshSession } from '../../../src/hosts/ssh-session';

const route: ResolvedRoute = { address: 'dst.example', port: 2222, user: 'kvmadmin', hostKeyPolicy: 'strict' };
const extents = [{ start: 0, length: 4096 }];
const sourcePath = '/var/lib/libvirt/images/web01.img';
const destinationPath = "/var/lib/libvirt/images/it's a copy.img";

/** The words bash hands to `ssh` when it runs the push, with ssh replaced by a printer. */
function sshArgv(push: string): string[] {
  const script = /^bash -c '(.*)'$/s.exec(push)![1]!.replace(/'\\''/g, "'");
  const sshPart = script.slice(script.indexOf('| ssh ') + 2, script.lastIndexOf(' >&2; status'));
  const output = execFileSync('bash', ['-c', `ssh() { printf '%s\\0' "$@"; }; ${sshPart}`]);
  return output.toString('utf8').split('\0').slice(0, -1);
}

describe('pushCommand to a destination with become: sudo', () => {
  it("runs the destination's write pipeline through sudo -n /bin/sh -c, as one word for ssh", () => {
    const write = bashPipefail(writeFramedExtentsScript(destinationPath, extents, 'none')).text;
    const remote = sshArgv(pushCommand({ route, sourcePath, destinationPath, extents, become: 'sudo' }).text).at(-1)!;
    expect(remote.startsWith('sudo -n /bin/sh -c ')).toBe(true);
    // The destination's login shell unquotes the argument back to the plain write pipeline.
    const unquoted = execFileSync('/bin/sh', ['-c', `printf %s ${remote.slice('sudo -n /bin/sh -c '.length)}`]);
    expect(unquoted.toString('utf8')).toBe(write);
    expect(sshArgv(pushCommand({ route, sourcePath, destinationPath, extents }).text).at(-1)).toBe(write);
  });
});

/** A push whose source channel ends with exit status 1 and `stderr`. */
async function failedPush(source: HostSpecInput, destination: HostSpecInput, stderr: string) {
  const channel = Object.assign(new EventEmitter(), { stderr: new EventEmitter(), close: () => undefined });
  const client = Object.assign(new EventEmitter(), {
    exec: (_command: string, callback: (error: Error | undefined, opened: typeof channel) => void) =>
      callback(undefined, channel),
  });
  const push = pushExtents({
    source: new SshSession(hostSpecSchema.parse(source), client as unknown as Client),
    destinationHost: hostSpecSchema.parse(destination),
    route: {},
    sourcePath,
    destinationPath,
    extents,
  });
  await new Promise((resolve) => setImmediate(resolve));
  channel.stderr.emit('data', Buffer.from(stderr));
  channel.emit('exit', 1);
  channel.emit('close');
  return push.catch((error: unknown) => error);
}

describe('pushExtents and sudo', () => {
  const destination = { address: 'dst.example', port: 2222, user: 'kvmadmin', become: 'sudo' } as const;

  it("fails with 1102 naming the destination's write and its rule when the destination's sudo refuses", async () => {
    const error = await failedPush({ address: 'src.example' }, destination, 'sudo: a password is required\n');
    expect(error).toMatchObject({
      code: ErrorCode.PERMISSION_DENIED,
      message: expect.stringMatching(
        /^kvmadmin@\[dst\.example\]:2222: cannot run 'the write of \/var\/lib\/libvirt\/images\/it's a copy\.img \(direct mode\)' as root through sudo \(sudo: a password is required\);.*'kvmadmin ALL=\(root\) NOPASSWD: \/bin\/sh'/,
      ),
    });
  });

  it("blames the source's sudo when only the source has become", async () => {
    const error = await failedPush(
      { address: 'src.example', user: 'admin', become: 'sudo' },
      { address: 'dst.example' },
      'sudo: a password is required\n',
    );
    expect(error).toMatchObject({
      code: ErrorCode.PERMISSION_DENIED,
      message: expect.stringContaining(
        "admin@src.example: cannot run 'the push of /var/lib/libvirt/images/web01.img (direct mode)' as root",
      ),
    });
  });

  it('reports other failures of a push to a sudo destination as before', async () => {
    const error = await failedPush({ address: 'src.example' }, destination, 'kvm-clone: short stream\n');
    expect(error).toMatchObject({ code: ErrorCode.TRANSFER_ERROR });
  });
});
