import { describe, expect, it } from 'vitest';
import { knownHostsFor } from '../../../bench/scenarios/wan';

const labKnownHosts = `[127.0.0.2]:2222 ssh-ed25519 AAAAkeyA
[127.0.0.3]:2222 ssh-ed25519 AAAAkeyB
[127.0.0.3]:2222 ecdsa-sha2-nistp256 AAAAkeyB2 comment
127.0.0.4 ssh-ed25519 AAAAkeyC
`;

describe('knownHostsFor (the WAN scenario re-addresses host keys to its proxy port)', () => {
  it('copies every key of the host to the proxy port', () => {
    expect(knownHostsFor(labKnownHosts, '127.0.0.3', 2222, 40001)).toEqual([
      '[127.0.0.3]:40001 ssh-ed25519 AAAAkeyB',
      '[127.0.0.3]:40001 ecdsa-sha2-nistp256 AAAAkeyB2 comment',
    ]);
  });

  it('finds a host on port 22 under its bare address', () => {
    expect(knownHostsFor(labKnownHosts, '127.0.0.4', 22, 40001)).toEqual(['[127.0.0.4]:40001 ssh-ed25519 AAAAkeyC']);
  });

  it('refuses a host it has no key for, rather than trusting any', () => {
    expect(() => knownHostsFor(labKnownHosts, '127.0.0.2', 2223, 40001)).toThrow(/no key for \[127\.0\.0\.2\]:2223/);
  });
});
