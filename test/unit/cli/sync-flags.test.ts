import { describe, expect, it } from 'vitest';
import { directRouteFor } from '../../../src/cli/direct-route-choice';
import { notifyInputFor } from '../../../src/cli/notify-merge';
import { syncInputFromFlags } from '../../../src/cli/sync-flags';
import { ErrorCode } from '../../../src/errors';

const subject = { source: 'a', destination: 'b', vmName: 'web01' };

describe('syncInputFromFlags', () => {
  it('maps every flag to its workflow input field', () => {
    expect(
      syncInputFromFlags(subject, {
        targetName: 'web01-standby',
        delta: false,
        checkpoint: true,
        fullVerify: true,
        parallel: '8',
        compress: true,
        verify: false,
        preserveMac: true,
        bandwidthLimit: '10M',
        timeout: '600',
      }),
    ).toEqual({
      ...subject,
      targetName: 'web01-standby',
      deltaOnly: false,
      checkpoint: true,
      fullVerify: true,
      parallel: 8,
      compress: true,
      verify: false,
      preserveMac: true,
      bandwidthLimit: '10M',
      timeout: 600,
    });
  });

  it('lets flags win over the config defaults, which stay when no flag is given', () => {
    expect(syncInputFromFlags(subject, { parallel: '2' }, { parallel: 8, deltaOnly: false, bandwidthLimit: '5M' })).toEqual({ ...subject, parallel: 2, deltaOnly: false, bandwidthLimit: '5M' });
    expect(syncInputFromFlags(subject, {})).toEqual(subject);
  });

  it('refuses a timeout that is not a whole number with 1304', () => {
    expect(() => syncInputFromFlags(subject, { timeout: '1h' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_TIMEOUT }));
  });
});

describe('directRouteFor', () => {
  const config = { hosts: { a: { address: '10.0.0.1', direct: { b: { address: '10.1.0.2' } } }, b: { address: '10.0.0.2' } } };

  it("takes the source's route to the destination, unless --relay", () => {
    expect(directRouteFor(config, 'a', 'b')).toEqual({ address: '10.1.0.2' });
    expect(directRouteFor(config, 'a', 'b', true)).toBeUndefined();
  });

  it('relays when the pair has no route', () => {
    expect(directRouteFor(config, 'b', 'a')).toBeUndefined();
    expect(directRouteFor(config, 'c', 'b')).toBeUndefined();
  });
});

describe('notifyInputFor', () => {
  it('puts the global webhooks first, then those of the command, and nothing when there are none', () => {
    const global = { url: 'https://hooks.example/a', events: ['failure' as const], format: 'slack' as const };
    expect(notifyInputFor({ notifications: { webhooks: [global] } }, ['http://127.0.0.1:9/x'])).toEqual({ webhooks: [global, { url: 'http://127.0.0.1:9/x' }] });
    expect(notifyInputFor({ notifications: { webhooks: [] } })).toBeUndefined();
  });
});
