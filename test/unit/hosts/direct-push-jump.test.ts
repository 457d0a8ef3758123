import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { directRouteSchema } from '../../../src/domain/schemas/direct-route';
import { hostSpecSchema } from '../../../src/domain/schemas/host';
import { sh } from '../../../src/domain/shell-quote';
import { resolveRoute, sshCommand } from '../../../src/hosts/direct-push';

/** The words bash hands to `ssh` when it runs `command`, with ssh replaced by a printer. */
function sshArgv(command: string): string[] {
  const output = execFileSync('bash', ['-c', `ssh() { printf '%s\\0' "$@"; }; ${command}`]);
  return output.toString('utf8').split('\0').slice(0, -1);
}

const destination = hostSpecSchema.parse({
  address: 'dst.example',
  // The worker's own way to the destination is no route for the source.
  jump: { address: 'worker-bastion.example' },
});

describe('a direct route through jump hosts', () => {
  it('takes [user@]host[:port] hops and ssh:// ones, comma-separated', () => {
    for (const proxyJump of ['bastion', 'admin@bastion:2222', 'a@hop1,ssh://b@hop2:22', 'root@[fe80::1]:22']) {
      expect(directRouteSchema.parse({ proxyJump }).proxyJump).toBe(proxyJump);
    }
  });

  it.each(['-oProxyCommand=touch /tmp/pwn', 'bastion;reboot', 'bastion $(reboot)', 'a,,b', 'bastion:0', ''])(
    'attack: refuses the jump host %j (no option, no command, nothing empty)',
    (proxyJump) => {
      expect(directRouteSchema.safeParse({ proxyJump }).success).toBe(false);
    },
  );

  it("passes -J to the source's ssh as one quoted word, and never the worker's own jump host", () => {
    const route = resolveRoute(destination, directRouteSchema.parse({ proxyJump: 'admin@bastion:2222,hop2' }));
    expect(route.proxyJump).toBe('admin@bastion:2222,hop2');
    const argv = sshArgv(sshCommand(route, sh`true`).text);
    expect(argv[argv.indexOf('-J') + 1]).toBe('admin@bastion:2222,hop2');
    expect(argv.slice(-2)).toEqual(['root@dst.example', 'true']);

    const plain = sshArgv(sshCommand(resolveRoute(destination, {}), sh`true`).text);
    expect(plain).not.toContain('-J');
    expect(plain.join(' ')).not.toContain('worker-bastion');
  });
});
