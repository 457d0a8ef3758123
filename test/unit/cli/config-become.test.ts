import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/cli/config-schema';
import { hostSpecSchema } from '../../../src/domain/schemas/host';

describe('the become setting', () => {
  it('is accepted on a host spec and on a configured host, as sudo only', () => {
    expect(hostSpecSchema.parse({ address: 'kvm1', user: 'kvmadmin', become: 'sudo' }).become).toBe('sudo');
    expect(hostSpecSchema.parse({ address: 'kvm1' }).become).toBeUndefined();
    expect(hostSpecSchema.safeParse({ address: 'kvm1', become: 'su' }).success).toBe(false);
    const config = configSchema.parse({ hosts: { kvm1: { address: 'kvm1', user: 'kvmadmin', become: 'sudo' } } });
    expect(config.hosts.kvm1!.become).toBe('sudo');
    expect(configSchema.safeParse({ hosts: { kvm1: { address: 'kvm1', become: 'doas' } } }).success).toBe(false);
  });
});
