import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import type { Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { isExitedLocalWorker, workerIsPolling } from '../../../src/cli/in-process-worker';

/** The pid of a process that has just exited. */
async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

/** describeTaskQueue answering with these pollers: the server side of workerIsPolling. */
function serverListing(
  pollers: { identity: string; secondsAgo: number }[],
  now: number,
): Pick<Connection, 'workflowService'> {
  const listed = pollers.map((poller) => ({
    identity: poller.identity,
    lastAccessTime: { seconds: Math.floor(now / 1000) - poller.secondsAgo },
  }));
  return { workflowService: { describeTaskQueue: async () => ({ pollers: listed }) } } as unknown as Pick<
    Connection,
    'workflowService'
  >;
}

describe('isExitedLocalWorker', () => {
  it('is true only for a <pid>@<this host> identity whose process has exited', async () => {
    const gone = await exitedPid();
    expect(isExitedLocalWorker(`${gone}@${hostname()}`)).toBe(true);
    expect(isExitedLocalWorker(`${process.pid}@${hostname()}`)).toBe(false);
    expect(isExitedLocalWorker(`${gone}@another-host`)).toBe(false);
    expect(isExitedLocalWorker('worker-1')).toBe(false);
    expect(isExitedLocalWorker(undefined)).toBe(false);
  });
});

describe('workerIsPolling', () => {
  const now = Date.now();

  it("does not count the poll of the previous command's worker, which has exited", async () => {
    const gone = await exitedPid();
    expect(
      await workerIsPolling(
        serverListing([{ identity: `${gone}@${hostname()}`, secondsAgo: 5 }], now),
        'default',
        'kvm-clone',
        now,
      ),
    ).toBe(false);
  });

  it('counts a recent poll of a live local worker or of a worker on another machine', async () => {
    expect(
      await workerIsPolling(
        serverListing([{ identity: `${process.pid}@${hostname()}`, secondsAgo: 5 }], now),
        'default',
        'kvm-clone',
        now,
      ),
    ).toBe(true);
    expect(
      await workerIsPolling(
        serverListing([{ identity: '4242@worker-host', secondsAgo: 5 }], now),
        'default',
        'kvm-clone',
        now,
      ),
    ).toBe(true);
  });

  it('does not count a poll older than a long poll', async () => {
    expect(
      await workerIsPolling(
        serverListing([{ identity: `${process.pid}@${hostname()}`, secondsAgo: 120 }], now),
        'default',
        'kvm-clone',
        now,
      ),
    ).toBe(false);
  });
});
