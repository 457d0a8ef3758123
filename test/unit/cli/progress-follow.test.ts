import { describe, expect, it } from 'vitest';
import type { KvmCloneClient } from '../../../src/client';
import { followOperation, type ProgressSink } from '../../../src/cli/progress-follow';

const progress = { phase: 'copying', disks: [], bytesTotal: 10, bytesDone: 5 };

function recordingSink(): ProgressSink & { events: string[] } {
  const events: string[] = [];
  return { events, update: () => events.push('update'), finish: () => events.push('finish') };
}

describe('followOperation', () => {
  it('returns only once the progress query in flight has settled, so the caller never closes under it', async () => {
    let answerQuery: () => void = () => undefined;
    const client = {
      progress: () => new Promise((resolve) => (answerQuery = () => resolve(progress))),
      result: async () => 'done',
    } as unknown as KvmCloneClient;
    const sink = recordingSink();
    let settled = false;
    const following = followOperation<string>(client, 'op', sink, 10).then((result) => {
      settled = true;
      return result;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    answerQuery();
    await expect(following).resolves.toBe('done');
    // The late answer is not shown after the result.
    expect(sink.events).toEqual(['finish']);
  });

  it('shows progress while the operation runs, then the error the operation ended with', async () => {
    let end: (error: Error) => void = () => undefined;
    const client = {
      progress: async () => progress,
      result: () => new Promise((_, reject) => (end = reject)),
    } as unknown as KvmCloneClient;
    const sink = recordingSink();
    const following = followOperation(client, 'op', sink, 10);
    await new Promise((resolve) => setTimeout(resolve, 50));
    end(new Error('cancelled'));
    await expect(following).rejects.toThrow('cancelled');
    expect(sink.events.at(-1)).toBe('finish');
    expect(sink.events.filter((event) => event === 'update').length).toBeGreaterThan(1);
  });
});
