import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActivityDeps } from '../../../src/activities/deps';
import { syncRange, type SyncProgress, type SyncRangeInput } from '../../../src/activities/sync-range';
import { transferRange, type TransferProgress, type TransferRangeInput } from '../../../src/activities/transfer-range';
import { sha256OfFile } from '../../helpers/local-files';
import { localDeps } from './local-host';

const KiB = 1024;
/** More extents than one batch takes (256): the copy runs in two batches. */
const extentCount = 300;
const extentLength = 4 * KiB;
const extentSpacing = 64 * KiB;
const fileSize = extentCount * extentSpacing;
const dataBytes = extentCount * extentLength;
/** Where the first batch (256 extents) ends: what a lost attempt would have heartbeated. */
const firstBatchEnd = 255 * extentSpacing + extentLength;
const lastExtentEnd = (extentCount - 1) * extentSpacing + extentLength;

let dir: string;
let sourcePath: string;
let destinationPath: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kvm-clone-copy-batches-'));
  sourcePath = path.join(dir, 'source.img');
  destinationPath = path.join(dir, 'copy.img');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A sparse file of `fileSize` with `blocks` written at their offsets and holes elsewhere. */
async function sparseFile(file: string, blocks: { offset: number; data: Buffer }[]): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.truncate(fileSize);
    for (const { offset, data } of blocks) await handle.write(data, 0, data.length, offset);
  } finally {
    await handle.close();
  }
}

/** The source: `extentCount` random 4 KiB extents, 64 KiB apart. */
function sourceBlocks(): { offset: number; data: Buffer }[] {
  return Array.from({ length: extentCount }, (_, index) => ({
    offset: index * extentSpacing,
    data: randomBytes(extentLength),
  }));
}

/** Runs an activity in a mock context, with the heartbeat details a lost attempt left, if any. */
async function runWithHeartbeats<I, R>(
  activity: (input: I) => Promise<R>,
  input: I,
  resumed?: unknown,
): Promise<{ result: R; beats: Record<string, unknown>[] }> {
  const env = new MockActivityEnvironment(resumed === undefined ? {} : { heartbeatDetails: resumed });
  const beats: Record<string, unknown>[] = [];
  // Copies: the activities mutate their progress record after heartbeating it.
  env.on('heartbeat', (details: Record<string, unknown>) => beats.push({ ...details }));
  const result = await env.run<[I], R, typeof activity>(activity, input);
  return { result, beats };
}

/**
 * Runs an activity whose source plays a block device (this machine has none to spare) whose zero scan takes three
 * minutes of the test's clock, then reports the source file's extents; returns the heartbeats sent while it scanned.
 */
async function runThroughLongScan<R>(
  activity: (deps: ActivityDeps) => Promise<R>,
): Promise<{ result: R; beats: Record<string, unknown>[] }> {
  const scanStarted = path.join(dir, 'scan-started');
  const scanDone = path.join(dir, 'scan-done');
  const report = [...sourceBlocks().map(({ offset }) => `${offset} ${extentLength}`), `end ${fileSize}`];
  const deps = localDeps(dir, (command) => {
    if (command.startsWith('test -b ')) return 'true';
    if (!command.startsWith('python3 -c') || !command.includes('close_run')) return command;
    const lines = report.map((line) => `'${line}'`).join(' ');
    return `touch ${scanStarted}; while [ ! -e ${scanDone} ]; do sleep 0.02; done; printf '%s\\n' ${lines}`;
  });
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
  try {
    const env = new MockActivityEnvironment();
    const beats: Record<string, unknown>[] = [];
    env.on('heartbeat', (details: Record<string, unknown>) => beats.push({ ...details }));
    const run = env.run(() => activity(deps));
    while (!existsSync(scanStarted)) await new Promise((resolve) => setTimeout(resolve, 20));
    // Six times the heartbeat timeout of a transfer.
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    const whileScanning = [...beats];
    expect(whileScanning.length).toBeGreaterThanOrEqual(30);
    await writeFile(scanDone, '');
    return { result: (await run) as R, beats: whileScanning };
  } finally {
    vi.useRealTimers();
    // A failed expectation must not leave the scan waiting.
    await writeFile(scanDone, '');
  }
}

function transferInput(): TransferRangeInput {
  return {
    source: 'a',
    destination: 'b',
    sourcePath,
    destinationPath,
    range: { start: 0, length: fileSize, dataBytes },
    label: 'vda',
  };
}

describe('transferRange', () => {
  it('copies every data extent of the range in batches, heartbeating each confirmed batch', async () => {
    await sparseFile(sourcePath, sourceBlocks());
    await sparseFile(destinationPath, []);
    const { result, beats } = await runWithHeartbeats(transferRange(localDeps(dir)), transferInput());

    expect(result).toEqual({ bytesSent: dataBytes, dataBytes, bytesResumed: 0 });
    expect(await sha256OfFile(destinationPath)).toBe(await sha256OfFile(sourcePath));
    const start: TransferProgress = {
      committedOffset: 0,
      bytesCommitted: 0,
      bytesDone: 0,
      bytesTotal: dataBytes,
      bytesSent: 0,
      target: 'vda',
    };
    expect(beats[0]).toEqual(start);
    const confirmed = beats.filter((beat) => beat.bytesDone === beat.bytesCommitted && beat !== beats[0]);
    expect(confirmed).toEqual([
      {
        ...start,
        committedOffset: firstBatchEnd,
        bytesCommitted: 256 * extentLength,
        bytesDone: 256 * extentLength,
        bytesSent: 256 * extentLength,
      },
      {
        ...start,
        committedOffset: lastExtentEnd,
        bytesCommitted: dataBytes,
        bytesDone: dataBytes,
        bytesSent: dataBytes,
      },
    ]);
  });

  it('heartbeats while the source scans a block device for minutes, then copies what the scan found', async () => {
    await sparseFile(sourcePath, sourceBlocks());
    await sparseFile(destinationPath, []);
    const { result, beats } = await runThroughLongScan((deps) => transferRange(deps)(transferInput()));

    expect(new Set(beats.map((beat) => JSON.stringify(beat)))).toEqual(
      new Set([
        JSON.stringify({
          committedOffset: 0,
          bytesCommitted: 0,
          bytesDone: 0,
          bytesTotal: dataBytes,
          bytesSent: 0,
          target: 'vda',
        }),
      ]),
    );
    expect(result).toEqual({ bytesSent: dataBytes, dataBytes, bytesResumed: 0 });
    expect(await sha256OfFile(destinationPath)).toBe(await sha256OfFile(sourcePath));
  });

  it('resumes after the last batch a lost attempt confirmed, and counts what that attempt sent', async () => {
    await sparseFile(sourcePath, sourceBlocks());
    await sparseFile(destinationPath, []);
    const lost: TransferProgress = {
      committedOffset: firstBatchEnd,
      bytesCommitted: 256 * extentLength,
      bytesDone: 256 * extentLength + 100,
      bytesTotal: dataBytes,
      bytesSent: 500_000,
      target: 'vda',
    };
    const { result, beats } = await runWithHeartbeats(transferRange(localDeps(dir)), transferInput(), lost);

    const resent = (extentCount - 256) * extentLength;
    expect(result).toEqual({ bytesSent: 500_000 + resent, dataBytes, bytesResumed: 256 * extentLength });
    expect(beats[0]).toEqual({ ...lost, bytesDone: 256 * extentLength });
    expect(beats.at(-1)).toEqual({
      ...lost,
      committedOffset: lastExtentEnd,
      bytesCommitted: dataBytes,
      bytesDone: dataBytes,
      bytesSent: 500_000 + resent,
    });
    // What the lost attempt had written is not sent again: here the destination still has holes there.
    const [copy, source] = [await readFile(destinationPath), await readFile(sourcePath)];
    expect(copy.subarray(0, firstBatchEnd).every((byte) => byte === 0)).toBe(true);
    expect(copy.subarray(firstBatchEnd).equals(source.subarray(firstBatchEnd))).toBe(true);
  });
});

describe('syncRange', () => {
  /** Half the spacing: each extent's block has data, the block after it is a hole. */
  const blockSize = extentSpacing / 2;

  function syncInput(mode: SyncRangeInput['mode']): SyncRangeInput {
    return {
      source: 'a',
      destination: 'b',
      sourcePath,
      destinationPath,
      range: { start: 0, length: fileSize },
      mode,
      hashTool: 'python3',
      blockSize,
      label: 'vda',
    };
  }

  /** A copy that differs from the source in two blocks, and has data in a block that is a hole on the source. */
  async function staleCopy(): Promise<void> {
    const blocks = sourceBlocks();
    await sparseFile(sourcePath, blocks);
    const stale = blocks.map((block, index) =>
      index === 7 || index === 200 ? { ...block, data: randomBytes(extentLength) } : block,
    );
    await sparseFile(destinationPath, [...stale, { offset: 100 * extentSpacing + blockSize, data: randomBytes(KiB) }]);
  }

  it('sends only the blocks that differ, punches the one the source has as a hole, and heartbeats the step', async () => {
    await staleCopy();
    const { result, beats } = await runWithHeartbeats(syncRange(localDeps(dir)), syncInput('delta'));

    expect(await sha256OfFile(destinationPath)).toBe(await sha256OfFile(sourcePath));
    expect(result).toMatchObject({
      bytesCompared: fileSize,
      // Whole blocks cross the wire.
      bytesSent: 2 * blockSize,
      blocksChanged: 3,
      bytesUnchanged: fileSize - 3 * blockSize,
      written: [
        { start: 7 * extentSpacing, length: blockSize },
        { start: 100 * extentSpacing + blockSize, length: blockSize },
        { start: 200 * extentSpacing, length: blockSize },
      ],
    });
    const start: SyncProgress = {
      committedOffset: 0,
      bytesCompared: 0,
      bytesSent: 0,
      blocksChanged: 0,
      bytesUnchanged: 0,
      bytesSentInStep: 0,
      bytesTotal: fileSize,
      target: 'vda',
    };
    expect(beats[0]).toEqual(start);
    expect(beats.at(-1)).toEqual({
      ...start,
      committedOffset: fileSize,
      bytesCompared: fileSize,
      bytesSent: 2 * blockSize,
      blocksChanged: 3,
      bytesUnchanged: fileSize - 3 * blockSize,
    });
  });

  it('in full mode clears the tile and sends all source data', async () => {
    await staleCopy();
    const { result } = await runWithHeartbeats(syncRange(localDeps(dir)), syncInput('full'));

    expect(await sha256OfFile(destinationPath)).toBe(await sha256OfFile(sourcePath));
    expect(result).toMatchObject({
      bytesCompared: fileSize,
      bytesSent: dataBytes,
      blocksChanged: fileSize / blockSize,
      bytesUnchanged: 0,
      written: [{ start: 0, length: fileSize }],
    });
  });

  it('in full mode heartbeats while the source scans a block device for minutes', async () => {
    await staleCopy();
    const { result, beats } = await runThroughLongScan((deps) => syncRange(deps)(syncInput('full')));

    expect(beats.every((beat) => beat.committedOffset === 0 && beat.bytesSent === 0)).toBe(true);
    expect(result).toMatchObject({ bytesSent: dataBytes, written: [{ start: 0, length: fileSize }] });
    expect(await sha256OfFile(destinationPath)).toBe(await sha256OfFile(sourcePath));
  });

  it('resumes after the last step a lost attempt finished, counting the bytes its unfinished step sent', async () => {
    await staleCopy();
    const lost: SyncProgress = {
      committedOffset: fileSize,
      bytesCompared: fileSize,
      bytesSent: 8192,
      blocksChanged: 3,
      bytesUnchanged: 42,
      bytesSentInStep: 4096,
      bytesTotal: fileSize,
      target: 'vda',
    };
    const { result, beats } = await runWithHeartbeats(syncRange(localDeps(dir)), syncInput('delta'), lost);

    expect(result).toEqual({
      bytesCompared: fileSize,
      bytesSent: 12288,
      blocksChanged: 3,
      bytesUnchanged: 42,
      written: [],
    });
    expect(beats).toEqual([{ ...lost, bytesSent: 12288, bytesSentInStep: 0 }]);
    // Nothing was compared or sent again: the copy keeps its stale blocks.
    expect(await sha256OfFile(destinationPath)).not.toBe(await sha256OfFile(sourcePath));
  });
});
