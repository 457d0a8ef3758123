import { describe, expect, it } from 'vitest';
import { describeHolder, holderRecord, lockPathFor, parseHolderRecord } from '../../../src/domain/destination-lock';

const holder = { namespace: 'default', operationId: 'clone:a:web:b:web_clone', runId: 'run-1', name: 'web_clone' };

describe('destination lock paths and holders', () => {
  it('puts the lock of a name in the root, readable and with a hash that keeps look-alike names apart', () => {
    expect(lockPathFor('/var/lib/libvirt/images', 'web01')).toMatch(
      /^\/var\/lib\/libvirt\/images\/\.kvm-clone-locks\/web01-[0-9a-f]{8}$/,
    );
    expect(lockPathFor('/images', 'a b')).not.toBe(lockPathFor('/images', 'a_b'));
    expect(lockPathFor('/images', 'web')).toBe(lockPathFor('/images', 'web'));
  });

  it('keeps a hostile name inside the locks directory', () => {
    for (const name of ['../../etc/cron.d/x', '..', '/etc/passwd', 'a\nb', 'x'.repeat(300)]) {
      const path = lockPathFor('/images', name);
      expect(path.startsWith('/images/.kvm-clone-locks/')).toBe(true);
      expect(path.slice('/images/.kvm-clone-locks/'.length)).not.toContain('/');
      expect(path.length).toBeLessThan(120);
    }
  });

  it('writes one holder always the same way and reads it back', () => {
    expect(holderRecord(holder)).toBe(
      holderRecord({ name: 'web_clone', runId: 'run-1', operationId: 'clone:a:web:b:web_clone', namespace: 'default' }),
    );
    expect(parseHolderRecord(holderRecord(holder))).toEqual(holder);
    expect(holderRecord(holder)).not.toContain('\n');
  });

  it('reads an empty, foreign or broken holder file as no holder', () => {
    expect(parseHolderRecord('')).toBeUndefined();
    expect(parseHolderRecord('{"operationId":1}')).toBeUndefined();
    expect(parseHolderRecord('not json')).toBeUndefined();
    expect(describeHolder(undefined)).toContain('not recorded itself');
    expect(describeHolder(holder)).toBe('operation clone:a:web:b:web_clone (run run-1)');
  });
});
