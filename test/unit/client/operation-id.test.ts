import { describe, expect, it } from 'vitest';
import { cloneOperationId, migrateOperationId, syncOperationId } from '../../../src/client/operation-id';

describe('operation ids', () => {
  it('names the new name in a clone id, so clones of one VM to two names are two operations', () => {
    expect(cloneOperationId('a', 'web01', 'b', 'web01-standby')).toBe('clone:a:web01:b:web01-standby');
    expect(cloneOperationId('a', 'web01', 'b')).toBe('clone:a:web01:b:web01_clone');
    expect(cloneOperationId('a', 'web01', 'b', 'x')).not.toBe(cloneOperationId('a', 'web01', 'b', 'y'));
  });

  it('names the target in a sync id', () => {
    expect(syncOperationId('b', 'web01')).toBe('sync:b:web01');
  });

  it('names only the source and VM in a migration id, so one VM is never migrated twice at once', () => {
    expect(migrateOperationId('a', 'web01')).toBe('migrate:a:web01');
    expect(migrateOperationId('a', 'web01')).not.toBe(migrateOperationId('a', 'web02'));
  });
});
