import { describe, expect, it } from 'vitest';
import { hasCertAuthorityFor, parseKnownHosts, verifyHostKey } from '../../../src/hosts/known-hosts';

const caKey = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const hostKey = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LWZvci1rdm0tY2xvbmUtdGVzdHMh', 'base64');

describe('@cert-authority lines', () => {
  const text = [
    `@cert-authority *.lab,!bad.lab ssh-ed25519 ${caKey}`,
    `@cert-authority [*.lab]:2222 ssh-ed25519 ${caKey}`,
  ].join('\n');

  it('are found for the hosts their patterns name, in the port form known_hosts uses', () => {
    expect(hasCertAuthorityFor(text, 'kvm1.lab', 22)).toBe(true);
    expect(hasCertAuthorityFor(text, 'kvm1.lab', 2222)).toBe(true);
    expect(hasCertAuthorityFor(text, 'bad.lab', 22)).toBe(false);
    expect(hasCertAuthorityFor(text, 'kvm1.other', 22)).toBe(false);
    expect(hasCertAuthorityFor(text, 'kvm1.lab', 2200)).toBe(false);
  });

  it('trust no plain host key: the host stays unknown, so strict refuses it', () => {
    expect(parseKnownHosts(text)).toEqual([]);
    expect(verifyHostKey(text, 'kvm1.lab', 22, hostKey)).toBe('unknown');
  });
});
