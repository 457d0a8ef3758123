import { describe, expect, it } from 'vitest';
import { lookup } from '../../../src/domain/record-lookup';

describe('lookup', () => {
  it('finds own keys only', () => {
    const record = { vda: '/a', '': '/empty' };
    expect(lookup(record, 'vda')).toBe('/a');
    expect(lookup(record, '')).toBe('/empty');
    expect(lookup(record, 'vdb')).toBeUndefined();
    expect(lookup(record, 'constructor')).toBeUndefined();
    expect(lookup(record, '__proto__')).toBeUndefined();
  });

  it('finds nothing without a record or a key', () => {
    expect(lookup(undefined, 'vda')).toBeUndefined();
    expect(lookup({ vda: 1 }, undefined)).toBeUndefined();
  });
});
