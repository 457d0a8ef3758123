import { describe, expect, it } from 'vitest';
import { HostRegistry } from '../../../src/activities/host-registry';
import type { HostRef } from '../../../src/domain/schemas/host';
import { workerPolicySchema } from '../../../src/domain/schemas/worker-policy';
import { ErrorCode } from '../../../src/errors';

const aliases = {
  a: { address: '10.0.0.1', direct: { b: { address: '10.1.0.2', identityFile: '/root/.ssh/id_ed25519' } } },
  b: { address: '10.0.0.2', writableDirs: ['/srv/vms'], storagePools: ['fast'] },
};

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('HostRegistry', () => {
  it("resolves an alias with the config's writable dirs and pools, leaving its direct routes out", () => {
    const registry = new HostRegistry(aliases);
    expect(registry.resolve('b')).toMatchObject({
      address: '10.0.0.2',
      user: 'root',
      port: 22,
      writableDirs: ['/srv/vms'],
      storagePools: ['fast'],
    });
    expect(registry.resolve('a')).not.toHaveProperty('direct');
  });

  it('refuses unknown aliases, Object.prototype names included, with 1300', () => {
    const registry = new HostRegistry(aliases);
    expect(thrown(() => registry.resolve('c'))).toMatchObject({
      code: ErrorCode.INVALID_HOST,
      message: expect.stringContaining('configured: a, b'),
    });
    expect(thrown(() => registry.resolve('constructor'))).toMatchObject({
      code: ErrorCode.INVALID_HOST,
      message: expect.stringContaining("unknown host alias 'constructor'"),
    });
  });

  it('attack: refuses an inline host object with its own key, known_hosts file and accept-new (1300) unless policy.inlineHosts', () => {
    const inline = {
      address: '10.6.6.6',
      identityFile: '/root/.ssh/id_ed25519',
      knownHostsFile: '/etc/cron.d/pwn',
      hostKeyPolicy: 'accept-new',
    } as HostRef;
    expect(thrown(() => new HostRegistry(aliases).resolve(inline))).toMatchObject({
      code: ErrorCode.INVALID_HOST,
      message: expect.stringContaining('policy.inlineHosts is off'),
    });
    expect(new HostRegistry(aliases, workerPolicySchema.parse({ inlineHosts: true })).resolve(inline)).toMatchObject({
      address: '10.6.6.6',
    });
  });

  it("takes a direct route from the worker's config only: hosts.<source>.direct.<destination>", () => {
    const registry = new HostRegistry(aliases);
    expect(registry.directRoute('a', 'b')).toEqual({ address: '10.1.0.2', identityFile: '/root/.ssh/id_ed25519' });
    expect(thrown(() => registry.directRoute('b', 'a'))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: expect.stringContaining('no route hosts.b.direct.a'),
    });
    expect(thrown(() => registry.directRoute('a', 'c'))).toMatchObject({ code: ErrorCode.INVALID_HOST });
    expect(thrown(() => registry.directRoute('a', 'toString'))).toMatchObject({ code: ErrorCode.INVALID_HOST });
  });

  it('attack: no direct route for an inline host, even with inline hosts allowed', () => {
    const registry = new HostRegistry(aliases, workerPolicySchema.parse({ inlineHosts: true }));
    expect(thrown(() => registry.directRoute('a', { address: '10.6.6.6' } as HostRef))).toMatchObject({
      code: ErrorCode.CONFIGURATION_ERROR,
      message: expect.stringContaining('both hosts as aliases'),
    });
  });
});
