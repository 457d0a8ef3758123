import { describe, expect, it } from 'vitest';
import type { SyncResult } from '../../../src/domain/sync-result';
import { expandNameTemplate, hasNamePlaceholder } from '../../../src/domain/name-template';
import { notificationDocument, notificationText } from '../../../src/domain/notification';
import { notifySchema } from '../../../src/domain/schemas/notify';

const operation = {
  kind: 'sync' as const,
  operationId: 'sync:b:web01',
  runId: 'r1',
  vmName: 'web01',
  targetName: 'web01',
  sourceHost: 'a',
  destinationHost: 'b',
};

describe('notification documents', () => {
  it('holds the result on success, the error otherwise', () => {
    const result = {
      success: true,
      durationSeconds: 12.34,
      bytesTransferred: 3 * 1024 * 1024,
      warnings: ['w'],
    } as SyncResult;
    const success = notificationDocument(operation, { event: 'success', result }, new Date(0));
    expect(success).toMatchObject({ event: 'success', result, endedAt: '1970-01-01T00:00:00.000Z' });
    expect(success.error).toBeUndefined();
    expect(notificationText(success)).toBe(
      'kvm-clone: sync of web01 (a) to web01 (b) succeeded in 12.3 s, 3.0 MiB sent, 1 warning(s); operation sync:b:web01',
    );
    const cancelled = notificationDocument(
      operation,
      { event: 'cancelled', error: { code: 1008, codeName: 'OPERATION_CANCELLED_ERROR', message: 'stopped' } },
      new Date(0),
    );
    expect(cancelled.result).toBeUndefined();
    expect(notificationText(cancelled)).toContain('was cancelled: error 1008');
  });

  it('ad-hoc webhooks default to every event and the json format', () => {
    expect(notifySchema.parse({ webhooks: [{ url: 'https://h.example/x' }] }).webhooks[0]).toEqual({
      url: 'https://h.example/x',
      events: ['success', 'failure', 'cancelled'],
      format: 'json',
    });
    expect(notifySchema.safeParse({ webhooks: [{ url: 'ftp://h.example/x' }] }).success).toBe(false);
    expect(notifySchema.safeParse({ webhooks: [{ url: 'https://h.example/x', events: [] }] }).success).toBe(false);
  });
});

describe('dated names', () => {
  it('fills {date}, {time} and {datetime} from the time in UTC, and leaves other text alone', () => {
    const time = new Date('2025-01-31T02:03:04.567Z');
    expect(expandNameTemplate('web01-{date}', time)).toBe('web01-2025-01-31');
    expect(expandNameTemplate('web01-{datetime}', time)).toBe('web01-20250131-020304');
    expect(expandNameTemplate('{time}-{x}', time)).toBe('020304-{x}');
    expect(hasNamePlaceholder('web01-{date}')).toBe(true);
    expect(hasNamePlaceholder('web01')).toBe(false);
  });
});
