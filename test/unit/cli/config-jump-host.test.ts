import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/cli/config-schema';

describe('a configured host behind a jump host', () => {
  it('takes `jump` with the jump host spec, and policy.hostReferences', () => {
    const config = configSchema.parse({
      hosts: {
        kvm1: {
          address: '10.1.0.11',
          jump: { address: 'bastion.example.com', user: 'jump', identityFile: '/root/.ssh/id_bastion' },
        },
      },
      policy: { hostReferences: true },
    });
    expect(config.hosts.kvm1!.jump).toEqual({
      address: 'bastion.example.com',
      port: 22,
      user: 'jump',
      identityFile: '/root/.ssh/id_bastion',
      hostKeyPolicy: 'strict',
    });
    expect(config.policy?.hostReferences).toBe(true);
  });

  it('refuses a typo inside the jump host, as everywhere in the config', () => {
    const result = configSchema.safeParse({ hosts: { kvm1: { address: 'kvm1', jump: { adress: 'bastion' } } } });
    expect(result.success).toBe(false);
  });
});
