import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { throttledHeartbeat } from '../../../src/activities/deps';

describe('throttledHeartbeat', () => {
  it('sends the first and forced heartbeats, holds back the rest within the interval', async () => {
    const env = new MockActivityEnvironment();
    const sent: unknown[] = [];
    env.on('heartbeat', (details: unknown) => sent.push(details));
    await env.run(async () => {
      const heartbeat = throttledHeartbeat(60_000);
      heartbeat({ step: 1 });
      heartbeat({ step: 2 });
      heartbeat({ step: 3 }, true);
      heartbeat({ step: 4 });
    });
    expect(sent).toEqual([{ step: 1 }, { step: 3 }]);
  });

  it('flushes the held-back details when the activity is cancelled, e.g. on worker shutdown', async () => {
    const env = new MockActivityEnvironment();
    const sent: unknown[] = [];
    env.on('heartbeat', (details: unknown) => sent.push(details));
    const run = env.run(async () => {
      const heartbeat = throttledHeartbeat(60_000);
      heartbeat({ committedOffset: 0 });
      heartbeat({ committedOffset: 0, bytesDone: 42 });
      env.cancel('WORKER_SHUTDOWN');
      Context.current().cancellationSignal.throwIfAborted();
    });
    await expect(run).rejects.toThrow();
    expect(sent).toEqual([{ committedOffset: 0 }, { committedOffset: 0, bytesDone: 42 }]);
  });

  it('sends nothing extra on cancellation when nothing was held back', async () => {
    const env = new MockActivityEnvironment();
    const sent: unknown[] = [];
    env.on('heartbeat', (details: unknown) => sent.push(details));
    const run = env.run(async () => {
      const heartbeat = throttledHeartbeat(60_000);
      heartbeat({ committedOffset: 7 });
      env.cancel('WORKER_SHUTDOWN');
      Context.current().cancellationSignal.throwIfAborted();
    });
    await expect(run).rejects.toThrow();
    expect(sent).toEqual([{ committedOffset: 7 }]);
  });
});
