/**
 * Replays recorded histories of real cloneVM and syncVM runs against the current workflow
 * code. A change that alters the commands a workflow issues for an existing history (a
 * reordered, added or removed activity, timer or scope without `patched()`) makes this
 * fail with a DeterminismViolationError: operations running during a deploy would break.
 *
 * The histories are test/fixtures/histories/*.json; scripts/record-histories re-records
 * them after a deliberate change (then keep the old files too, renamed, until no run that
 * started before the change can still be open).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';

const fixtures = path.resolve(__dirname, '../../fixtures/histories');

async function recordedHistories(): Promise<{ file: string; workflowId: string; history: History }[]> {
  const files = (await readdir(fixtures)).filter((file) => file.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => {
      const { workflowId, history } = JSON.parse(await readFile(path.join(fixtures, file), 'utf8')) as {
        workflowId: string;
        history: unknown;
      };
      return { file, workflowId, history: historyFromJSON(history) };
    }),
  );
}

describe('workflow replay', () => {
  it('replays every recorded cloneVM and syncVM history without a determinism error', async () => {
    const histories = await recordedHistories();
    const types = histories.map(
      (each) => each.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name,
    );
    expect(types).toContain('cloneVM');
    expect(types).toContain('syncVM');

    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      histories,
    )) {
      replayed++;
      if (result.error) {
        const file = histories.find(
          (each) =>
            each.workflowId === result.workflowId &&
            each.history.events?.[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId === result.runId,
        )?.file;
        failures.push(`${file ?? result.workflowId}: ${result.error.name}: ${result.error.message}`);
      }
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(histories.length);
  });
});
