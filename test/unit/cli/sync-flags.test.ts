import { describe, expect, it } from 'vitest';
import { directRouteFor } from '../../../src/cli/direct-route-choice';
import { configuredWebhooks, notifyInputFor } from '../../../src/cli/notify-merge';
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
    expect(
      syncInputFromFlags(subject, { parallel: '2' }, { parallel: 8, deltaOnly: false, bandwidthLimit: '5M' }),
    ).toEqual({ ...subject, parallel: 2, deltaOnly: false, bandwidthLimit: '5M' });
    expect(syncInputFromFlags(subject, {})).toEqual(subject);
  });

  it('refuses a timeout that is not a whole number with 1304', () => {
    expect(() => syncInputFromFlags(subject, { timeout: '1h' })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_TIMEOUT }),
    );
  });
});

describe('directRouteFor', () => {
  const config = {
    hosts: { a: { address: '10.0.0.1', direct: { b: { address: '10.1.0.2' } } }, b: { address: '10.0.0.2' } },
  };

  it('asks for direct mode (true, never the route: the worker has it) when the source has a route to the destination, unless --relay', () => {
    expect(directRouteFor(config, 'a', 'b')).toBe(true);
    expect(directRouteFor(config, 'a', 'b', true)).toBe(false);
  });

  it('relays when the pair has no route', () => {
    expect(directRouteFor(config, 'b', 'a')).toBe(false);
    expect(directRouteFor(config, 'c', 'b')).toBe(false);
    expect(directRouteFor(config, 'a', 'constructor')).toBe(false);
  });
});

describe('notifyInputFor', () => {
  it('names the global webhooks first (written in place: by their implicit names), then the ad-hoc URLs of the command; never a secret', () => {
    const inPlace = {
      url: 'https://hooks.example/a',
      secretEnv: 'HOOK',
      events: ['failure' as const],
      format: 'slack' as const,
    };
    expect(notifyInputFor({ notifications: { webhooks: ['ops', inPlace] } }, ['http://127.0.0.1:9/x'])).toEqual({
      webhooks: [{ name: 'ops' }, { name: 'notifications-2' }, { url: 'http://127.0.0.1:9/x' }],
    });
    expect(notifyInputFor({ notifications: { webhooks: [] } })).toBeUndefined();
  });

  it('configuredWebhooks: the named ones, and those written in place under their implicit names', () => {
    const ops = { url: 'https://hooks.example/ops', events: ['success' as const], format: 'json' as const };
    const inPlace = {
      url: 'https://hooks.example/a',
      secret: 's',
      events: ['failure' as const],
      format: 'slack' as const,
    };
    expect(configuredWebhooks({ webhooks: { ops }, notifications: { webhooks: ['ops', inPlace] } })).toEqual({
      ops,
      'notifications-2': inPlace,
    });
  });
});
