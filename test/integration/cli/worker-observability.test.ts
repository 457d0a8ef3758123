import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TransferProgress } from '../../../src/activities/transfer-range';
import { KvmCloneClient, type CloneResult } from '../../../src/client';
import { findFreePort } from '../../../src/temporal/free-port';
import { eventually, kvmClone, spawnKvmClone, writeLabConfig } from '../../helpers/cli';
import { Lab, uniqueVmName, type LabVm } from '../../helpers/lab';

const lab = new Lab(inject('labFile'));
let dir: string;
let config: string;
let vm: LabVm;
let bigVm: LabVm | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-observability-'));
  config = await writeLabConfig(lab, path.join(dir, 'config.yaml'), {
    address: inject('temporalAddress'),
    taskQueue: `cli-observability-${randomUUID()}`,
  });
  vm = await lab.makeVm('a', uniqueVmName('observe'));
});

afterAll(async () => {
  if (bigVm) {
    await lab.removeVm('a', bigVm);
    await lab.virsh('b', 'undefine', '--domain', `${bigVm.name}_clone`).catch(() => undefined);
    await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${bigVm.name}_clone*`).catch(() => undefined);
  }
  if (vm) await lab.removeVm('a', vm);
  await lab.virsh('b', 'undefine', '--domain', `${vm.name}-o`).catch(() => undefined);
  await lab.sshAs('b', `rm -f ${lab.host('b').storageDir}/${vm.name}-o-*`).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

interface LogLine {
  time: string;
  level: string;
  msg: string;
  operationId: string | null;
  activityType?: string;
}

describe('kvm-clone worker: metrics, JSON logs, SIGTERM', () => {
  it('serves Prometheus metrics, logs JSON lines that carry the operation id, and exits 0 on SIGTERM', async () => {
    const port = await findFreePort();
    // The env var sets the log format, the flag the metrics address: both ways are exercised.
    const worker = spawnKvmClone(['-c', config, 'worker', '--metrics-address', `127.0.0.1:${port}`], {
      KVM_CLONE_LOG_FORMAT: 'json',
    });
    let exitCode: number | null | undefined;
    try {
      await eventually(
        () => worker.output.stderr.includes('worker polling task queue'),
        'the worker to start',
        120_000,
      );

      let metrics = '';
      await eventually(
        async () => {
          metrics = await fetch(`http://127.0.0.1:${port}/metrics`)
            .then((response) => response.text())
            .catch(() => '');
          return /^temporal_\w+/m.test(metrics);
        },
        'temporal_ metrics on /metrics',
        30_000,
      );
      expect(metrics).toMatch(/^# TYPE temporal_\w+ /m);

      const newName = `${vm.name}-o`;
      const { code, stderr } = await kvmClone([
        '-c',
        config,
        '-o',
        'json',
        'clone',
        'a',
        'b',
        vm.name,
        '--new-name',
        newName,
      ]);
      expect(stderr).not.toContain('error');
      expect(code).toBe(0);
      const operationId = `clone:a:${vm.name}:b:${newName}`;

      // Activity execution shows in the SDK's metrics once the clone ran here.
      const after = await fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text());
      expect(after).toMatch(/^temporal_activity_execution_latency\w*\{[^}]*activity_type="transferRange"/m);

      worker.child.kill('SIGTERM');
      exitCode = await worker.exited;

      const lines = worker.output.stderr.split('\n').filter((line) => line.trim().length > 0);
      const records = lines.map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          throw new Error(`not a JSON log line: ${line}`);
        }
      });
      for (const record of records) {
        expect(record).toHaveProperty('operationId');
        expect(typeof record.msg).toBe('string');
        expect(Number.isNaN(Date.parse(record.time))).toBe(false);
      }
      const activityLines = records.filter((record) => record.activityType !== undefined);
      expect(activityLines.map((record) => record.msg)).toContain('activity completed');
      expect(activityLines.map((record) => record.activityType)).toContain('transferRange');
      for (const record of activityLines) expect(record.operationId).toBe(operationId);
      expect(records.at(-1)?.msg).toBe('worker stopped');
      // The compiled worker loads the bundle `npm run build` wrote; it does not bundle at start.
      expect(records.map((record) => record.msg)).not.toContain('Workflow bundle created');
    } finally {
      if (exitCode === undefined) worker.child.kill('SIGKILL');
    }
    expect(exitCode).toBe(0);
  });

  it('on SIGTERM mid-copy, the running transfer sends its last progress and hands over; the worker exits 0 and another one finishes', async () => {
    const taskQueue = `cli-shutdown-${randomUUID()}`;
    const shutdownConfig = await writeLabConfig(lab, path.join(dir, 'shutdown.yaml'), {
      address: inject('temporalAddress'),
      taskQueue,
    });
    bigVm = await lab.makeVm('a', uniqueVmName('shutdown'), { dataSize: '1G', fillMib: 256 });
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new KvmCloneClient(new Client({ connection }), taskQueue);
      const first = spawnKvmClone(['-c', shutdownConfig, 'worker', '--log-format', 'json']);
      let firstExit: number | null | undefined;
      try {
        await eventually(
          () => first.output.stderr.includes('worker polling task queue'),
          'the first worker to start',
          120_000,
        );
        const handle = await client.startClone({
          source: 'a',
          destination: 'b',
          vmName: bigVm.name,
          parallel: 1,
          bandwidthLimit: '40M',
        });
        let before: TransferProgress | undefined;
        await eventually(
          async () => {
            const pending = (await handle.describe()).raw.pendingActivities ?? [];
            const data = pending.find((activity) => activity.activityType?.name === 'transferRange')?.heartbeatDetails
              ?.payloads?.[0]?.data;
            const details = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as TransferProgress) : undefined;
            if (details && details.bytesDone > 0 && details.bytesDone < details.bytesTotal) before = details;
            return before !== undefined;
          },
          'a transfer under way',
          60_000,
        );

        first.child.kill('SIGTERM');
        firstExit = await first.exited;
        expect(firstExit).toBe(0);
        const lines = first.output.stderr
          .split('\n')
          .filter((line) => line.trim())
          .map((line) => JSON.parse(line) as LogLine & { cancelled?: string });
        expect(
          lines.find((line) => line.activityType === 'transferRange' && line.msg === 'activity ended with an error')
            ?.cancelled,
        ).toBe('WORKER_SHUTDOWN');

        // The attempt failed as retryable, after a last heartbeat at least as far as the progress seen before.
        const pending = (await handle.describe()).raw.pendingActivities?.find(
          (activity) => activity.activityType?.name === 'transferRange',
        );
        const last = JSON.parse(
          Buffer.from(pending!.heartbeatDetails!.payloads![0]!.data!).toString('utf8'),
        ) as TransferProgress;
        expect(last.bytesDone).toBeGreaterThanOrEqual(before!.bytesDone);
        expect(last.committedOffset).toBeGreaterThanOrEqual(before!.committedOffset);

        const second = spawnKvmClone(['-c', shutdownConfig, 'worker']);
        try {
          const result = await client.result<CloneResult>(handle.workflowId);
          expect(result.success).toBe(true);
          for (const file of result.files) expect(file.digest?.source).toBe(file.digest?.destination);
        } finally {
          second.child.kill('SIGTERM');
          expect(await second.exited).toBe(0);
        }
      } finally {
        if (firstExit === undefined) first.child.kill('SIGKILL');
      }
    } finally {
      await connection.close();
    }
  });
});
