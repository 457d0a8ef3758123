import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  keyTypeOfBlob,
  knownHostsLine,
  knownHostsName,
  parseKnownHosts,
  verifyHostKey,
} from '../../../src/hosts/known-hosts';

function sshString(value: Buffer | string): Buffer {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An SSH wire-format public key blob: string type, string key. */
function keyBlob(type: string, fill: number, size = 32): Buffer {
  return Buffer.concat([sshString(type), sshString(Buffer.alloc(size, fill))]);
}

const ed25519A = keyBlob('ssh-ed25519', 0xa1);
const ed25519B = keyBlob('ssh-ed25519', 0xb2);
const ecdsaC = keyBlob('ecdsa-sha2-nistp256', 0xc3, 65);

function line(hosts: string, key: Buffer, suffix = ''): string {
  return `${hosts} ${keyTypeOfBlob(key)} ${key.toString('base64')}${suffix}`;
}

/** `|1|salt|HMAC-SHA1(salt, name)`, as OpenSSH's HashKnownHosts writes it. */
function hashedName(name: string, salt = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}

describe('keyTypeOfBlob', () => {
  it('reads the type string at the start of a wire-format key', () => {
    expect(keyTypeOfBlob(ed25519A)).toBe('ssh-ed25519');
    expect(keyTypeOfBlob(ecdsaC)).toBe('ecdsa-sha2-nistp256');
  });

  it('returns an empty type for a blob too short to hold a length', () => {
    expect(keyTypeOfBlob(Buffer.alloc(0))).toBe('');
    expect(keyTypeOfBlob(Buffer.from([0, 0, 1]))).toBe('');
  });
});

describe('knownHostsName', () => {
  it('uses the bare host on port 22 and [host]:port elsewhere', () => {
    expect(knownHostsName('kvm1.lab', 22)).toBe('kvm1.lab');
    expect(knownHostsName('kvm1.lab', 2222)).toBe('[kvm1.lab]:2222');
    expect(knownHostsName('10.0.0.5', 2200)).toBe('[10.0.0.5]:2200');
  });

  it('does not double the brackets of an IPv6 address', () => {
    expect(knownHostsName('[fe80::1]', 22)).toBe('fe80::1');
    expect(knownHostsName('[fe80::1]', 2222)).toBe('[fe80::1]:2222');
    expect(knownHostsName('::1', 2222)).toBe('[::1]:2222');
  });
});

describe('knownHostsLine', () => {
  it('writes name, key type and base64 key, ending in a newline', () => {
    expect(knownHostsLine('kvm1.lab', 2222, ed25519A)).toBe(
      `[kvm1.lab]:2222 ssh-ed25519 ${ed25519A.toString('base64')}\n`,
    );
  });

  it('writes a line that verifyHostKey then trusts, for that port only', () => {
    const text = knownHostsLine('kvm1.lab', 2222, ed25519A);
    expect(verifyHostKey(text, 'kvm1.lab', 2222, ed25519A)).toBe('trusted');
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519A)).toBe('unknown');
  });
});

describe('parseKnownHosts', () => {
  it('skips blanks, comments, @cert-authority and incomplete lines, and keeps @revoked', () => {
    const text = [
      '# a comment',
      '',
      '   ',
      line('kvm1.lab,10.0.0.5', ed25519A, ' root@kvm1 trailing comment'),
      `@cert-authority *.lab ${keyTypeOfBlob(ed25519B)} ${ed25519B.toString('base64')}`,
      `@revoked ${line('*', ecdsaC)}`,
      'kvm2.lab ssh-ed25519',
      `${line('kvm3.lab', ed25519B)}\r`,
    ].join('\n');

    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({
      hostPatterns: ['kvm1.lab', '10.0.0.5'],
      keyType: 'ssh-ed25519',
      revoked: false,
    });
    expect(entries[0]!.key.equals(ed25519A)).toBe(true);
    expect(entries[1]).toMatchObject({ hostPatterns: ['*'], keyType: 'ecdsa-sha2-nistp256', revoked: true });
    expect(entries[2]).toMatchObject({ hostPatterns: ['kvm3.lab'], revoked: false });
    expect(entries[2]!.key.equals(ed25519B)).toBe(true);
  });

  it('keeps the salt and hash of a hashed entry instead of patterns', () => {
    const salt = Buffer.alloc(20, 7);
    const [entry] = parseKnownHosts(line(hashedName('kvm1.lab', salt), ed25519A));
    expect(entry!.hostPatterns).toEqual([]);
    expect(entry!.hashed!.salt.equals(salt)).toBe(true);
    expect(entry!.hashed!.hash.equals(createHmac('sha1', salt).update('kvm1.lab').digest())).toBe(true);
  });
});

describe('verifyHostKey with hashed entries', () => {
  it('trusts a hashed entry for the name it was hashed from', () => {
    expect(verifyHostKey(line(hashedName('kvm1.lab'), ed25519A), 'kvm1.lab', 22, ed25519A)).toBe('trusted');
  });

  it('hashes [host]:port for non-default ports, like OpenSSH', () => {
    const text = line(hashedName('[kvm1.lab]:2222'), ed25519A);
    expect(verifyHostKey(text, 'kvm1.lab', 2222, ed25519A)).toBe('trusted');
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519A)).toBe('unknown');
    expect(verifyHostKey(line(hashedName('kvm1.lab'), ed25519A), 'kvm1.lab', 2222, ed25519A)).toBe('unknown');
  });

  it('does not match other hosts, and reports a different key of the same type as changed', () => {
    const text = line(hashedName('kvm1.lab'), ed25519A);
    expect(verifyHostKey(text, 'kvm2.lab', 22, ed25519A)).toBe('unknown');
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519B)).toBe('changed');
  });

  it('agrees with entries hashed by ssh-keygen -H', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvm-clone-unit-known-hosts-'));
    try {
      const file = path.join(dir, 'known_hosts');
      writeFileSync(file, `${line('kvm1.lab', ed25519A)}\n${line('[10.0.0.5]:2222', ed25519B)}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
      const hashed = readFileSync(file, 'utf8');
      expect(hashed).not.toContain('kvm1.lab');
      expect(
        hashed
          .trim()
          .split('\n')
          .every((each) => each.startsWith('|1|')),
      ).toBe(true);

      expect(verifyHostKey(hashed, 'kvm1.lab', 22, ed25519A)).toBe('trusted');
      expect(verifyHostKey(hashed, '10.0.0.5', 2222, ed25519B)).toBe('trusted');
      expect(verifyHostKey(hashed, '10.0.0.5', 2222, ed25519A)).toBe('changed');
      expect(verifyHostKey(hashed, '10.0.0.5', 22, ed25519B)).toBe('unknown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('verifyHostKey with host patterns', () => {
  it('matches any name of a comma-separated list', () => {
    const text = line('kvm1.lab,10.0.0.5', ed25519A);
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519A)).toBe('trusted');
    expect(verifyHostKey(text, '10.0.0.5', 22, ed25519A)).toBe('trusted');
    expect(verifyHostKey(text, '10.0.0.6', 22, ed25519A)).toBe('unknown');
  });

  it('matches names case-insensitively', () => {
    expect(verifyHostKey(line('KVM1.Lab', ed25519A), 'kvm1.lab', 22, ed25519A)).toBe('trusted');
  });

  it('supports * and ? wildcards, and dots are literal', () => {
    const star = line('*.lab', ed25519A);
    expect(verifyHostKey(star, 'kvm1.lab', 22, ed25519A)).toBe('trusted');
    expect(verifyHostKey(star, 'lab', 22, ed25519A)).toBe('unknown');
    const question = line('kvm?.lab', ed25519A);
    expect(verifyHostKey(question, 'kvm7.lab', 22, ed25519A)).toBe('trusted');
    expect(verifyHostKey(question, 'kvm10.lab', 22, ed25519A)).toBe('unknown');
    expect(verifyHostKey(line('kvm1.lab', ed25519A), 'kvm1xlab', 22, ed25519A)).toBe('unknown');
  });

  it('lets a negated pattern exclude a host that another pattern matches', () => {
    const text = line('*.lab,!secret.lab', ed25519A);
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519A)).toBe('trusted');
    expect(verifyHostKey(text, 'secret.lab', 22, ed25519A)).toBe('unknown');
    expect(verifyHostKey(line('!secret.lab', ed25519A), 'other.lab', 22, ed25519A)).toBe('unknown');
  });

  it('matches [host]:port patterns only on that port', () => {
    const text = line('[kvm1.lab]:2222', ed25519A);
    expect(verifyHostKey(text, 'kvm1.lab', 2222, ed25519A)).toBe('trusted');
    expect(verifyHostKey(text, 'kvm1.lab', 2223, ed25519A)).toBe('unknown');
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519A)).toBe('unknown');
    expect(verifyHostKey(line('[fe80::1]:2222', ed25519A), '[fe80::1]', 2222, ed25519A)).toBe('trusted');
  });
});

describe('verifyHostKey verdicts', () => {
  it('is unknown when known_hosts is empty or names other hosts only', () => {
    expect(verifyHostKey('', 'kvm1.lab', 22, ed25519A)).toBe('unknown');
    expect(verifyHostKey(line('kvm2.lab', ed25519A), 'kvm1.lab', 22, ed25519A)).toBe('unknown');
  });

  it('is changed when the host has another key of the same type', () => {
    expect(verifyHostKey(line('kvm1.lab', ed25519B), 'kvm1.lab', 22, ed25519A)).toBe('changed');
  });

  it('is unknown, not changed, when the host is known only with other key types', () => {
    expect(verifyHostKey(line('kvm1.lab', ecdsaC), 'kvm1.lab', 22, ed25519A)).toBe('unknown');
  });

  it('is trusted when any entry for the host holds the presented key', () => {
    const text = [line('kvm1.lab', ed25519B), line('kvm1.lab', ecdsaC), line('kvm1.lab', ed25519A)].join('\n');
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519A)).toBe('trusted');
  });

  it('is revoked when the key is revoked, even if another line trusts it', () => {
    const text = [line('kvm1.lab', ed25519A), `@revoked ${line('*', ed25519A)}`].join('\n');
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519A)).toBe('revoked');
    expect(verifyHostKey(text, 'anything.else', 2222, ed25519A)).toBe('revoked');
  });

  it('does not call a new key changed because an old key of the host was revoked', () => {
    const text = `@revoked ${line('kvm1.lab', ed25519B)}`;
    expect(verifyHostKey(text, 'kvm1.lab', 22, ed25519A)).toBe('unknown');
  });
});
