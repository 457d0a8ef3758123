import { describe, expect, it } from 'vitest';
import {
  hostRefSchema,
  hostSpecSchema,
  jumpHostSchema,
  MAX_JUMP_HOPS,
  parseHostReference,
} from '../../../../src/domain/schemas/host';

describe('parseHostReference', () => {
  it.each([
    ['kvm1', { host: 'kvm1' }],
    ['root@kvm1', { host: 'kvm1', user: 'root' }],
    ['root@kvm1.example.com:2222', { host: 'kvm1.example.com', user: 'root', port: 2222 }],
    ['kvm1:2222', { host: 'kvm1', port: 2222 }],
    ['ssh://admin@10.0.0.11:2200', { host: '10.0.0.11', user: 'admin', port: 2200 }],
    ['ssh://kvm1/', { host: 'kvm1' }],
    ['SSH://kvm1', { host: 'kvm1' }],
    ['root@[fe80::1]:2222', { host: 'fe80::1', user: 'root', port: 2222 }],
    ['ssh://[::1]', { host: '::1' }],
    ['root@::1', { host: '::1', user: 'root' }],
    ['kvm_1', { host: 'kvm_1' }],
  ])('parses %s', (text, expected) => {
    expect(parseHostReference(text)).toEqual(expected);
  });

  it.each([
    ['ssh://kvm1/path', 'an ssh:// reference takes no path'],
    ['kvm1/x', "'/' is not allowed"],
    ['-oProxyCommand=x@kvm1', "'-oProxyCommand=x' is not a valid user name"],
    ['root@-oProxyCommand=x', "'-oProxyCommand=x' is not a valid host name or IP address"],
    ['root@kvm1:0', "'0' is not a valid port"],
    ['root@kvm1:65536', "'65536' is not a valid port"],
    ['root@kvm1:22x', "'22x' is not a valid port"],
    ['root@kvm1:', "'' is not a valid port"],
    ['root@[::1', "'[::1' has unbalanced brackets"],
    ['ssh://::1', 'an IPv6 address in an ssh:// reference needs brackets: [::1]'],
    ['a@b@kvm1', "'a@b' is not a valid user name"],
  ])('refuses %s: %s', (text, error) => {
    expect(parseHostReference(text)).toEqual({ error });
  });
});

describe('hostRefSchema', () => {
  it('takes aliases and every reference form as a string', () => {
    for (const ref of [
      'prod-a',
      'root@kvm1',
      'root@kvm1:2222',
      'ssh://root@kvm1:2222',
      'SSH://kvm1',
      'root@[fe80::1]:22',
    ]) {
      expect(hostRefSchema.parse(ref)).toBe(ref);
    }
  });

  it('refuses strings no reference or alias can be', () => {
    for (const ref of ['', 'a b', 'root@kvm1;id', 'x'.repeat(331), 'http://kvm1', 'kvm1/etc']) {
      expect(hostRefSchema.safeParse(ref).success).toBe(false);
    }
  });
});

describe('jump hosts in a host spec', () => {
  it("fills a jump host's defaults and keeps nested jump hosts", () => {
    const spec = hostSpecSchema.parse({
      address: 'kvm1',
      jump: { address: 'b1', jump: { address: 'b0', port: 2022 } },
    });
    expect(spec.jump).toEqual({
      address: 'b1',
      port: 22,
      user: 'root',
      hostKeyPolicy: 'strict',
      jump: { address: 'b0', port: 2022, user: 'root', hostKeyPolicy: 'strict' },
    });
  });

  it('refuses unknown keys in a jump host, and a chain longer than the limit', () => {
    expect(jumpHostSchema.safeParse({ address: 'b1', libvirtUri: 'qemu:///system' }).success).toBe(false);
    let chain: Record<string, unknown> = { address: 'b0' };
    for (let hop = 1; hop < MAX_JUMP_HOPS; hop += 1) chain = { address: `b${hop}`, jump: chain };
    expect(jumpHostSchema.safeParse(chain).success).toBe(true);
    expect(jumpHostSchema.safeParse({ address: 'b9', jump: chain }).success).toBe(false);
  });
});
