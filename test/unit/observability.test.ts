import { describe, expect, it } from 'vitest';
import { workerTelemetrySettings } from '../../src/cli/commands/worker';
import { ErrorCode, KvmCloneError } from '../../src/errors';
import { jsonLogLine, textLogLine } from '../../src/observability';

const at = BigInt(Date.parse('2026-01-31T02:00:00.123Z')) * 1_000_000n;

describe('jsonLogLine', () => {
  it('is one JSON object per line, with the workflow id as operationId and the SDK attributes', () => {
    const line = jsonLogLine({
      level: 'INFO',
      message: 'activity completed',
      timestampNanos: at,
      meta: { workflowId: 'clone:a:web01:b', activityType: 'transferRange', attempt: 2, durationMs: 812 },
    });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd()).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '2026-01-31T02:00:00.123Z',
      level: 'info',
      msg: 'activity completed',
      operationId: 'clone:a:web01:b',
      workflowId: 'clone:a:web01:b',
      activityType: 'transferRange',
      attempt: 2,
      durationMs: 812,
    });
  });

  it('has operationId null on lines about the worker itself', () => {
    expect(
      JSON.parse(
        jsonLogLine({
          level: 'WARN',
          message: 'Worker state changed',
          timestampNanos: at,
          meta: { sdkComponent: 'worker' },
        }),
      ),
    ).toMatchObject({
      level: 'warn',
      operationId: null,
      sdkComponent: 'worker',
    });
    expect(JSON.parse(jsonLogLine({ level: 'DEBUG', message: 'no meta', timestampNanos: at }))).toMatchObject({
      operationId: null,
    });
  });

  it('keeps errors, bigints and cycles printable, and multi-line messages on one line', () => {
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    const error = new KvmCloneError(ErrorCode.TRANSFER_ERROR, 'copy failed');
    const line = jsonLogLine({
      level: 'ERROR',
      message: 'first\nsecond',
      timestampNanos: at,
      meta: { error, size: 5n, cycle },
    });
    expect(line.trimEnd()).not.toContain('\n');
    const record = JSON.parse(line) as {
      msg: string;
      error: { message: string; code: number; stack?: string };
      size: string;
      cycle: { self: string };
    };
    expect(record.msg).toBe('first\nsecond');
    expect(record.error).toMatchObject({ message: 'copy failed', code: ErrorCode.TRANSFER_ERROR });
    expect(record.size).toBe('5');
    expect(record.cycle.self).toBe('[circular]');
  });
});

describe('workerTelemetrySettings', () => {
  it('takes the flag, else the env var, else the config, else text logs and no metrics', () => {
    const config = { worker: { metricsAddress: '0.0.0.0:9000', logFormat: 'json' as const } };
    expect(workerTelemetrySettings({}, {}, {})).toEqual({ logFormat: 'text' });
    expect(workerTelemetrySettings({}, config, {})).toEqual({ logFormat: 'json', metricsAddress: '0.0.0.0:9000' });
    expect(
      workerTelemetrySettings({}, config, {
        KVM_CLONE_METRICS_ADDRESS: '127.0.0.1:9100',
        KVM_CLONE_LOG_FORMAT: 'text',
      }),
    ).toEqual({ logFormat: 'text', metricsAddress: '127.0.0.1:9100' });
    expect(
      workerTelemetrySettings({ metricsAddress: '[::1]:9464', logFormat: 'json' }, config, {
        KVM_CLONE_METRICS_ADDRESS: '127.0.0.1:9100',
      }),
    ).toEqual({
      logFormat: 'json',
      metricsAddress: '[::1]:9464',
    });
    // An empty env var counts as unset.
    expect(workerTelemetrySettings({}, config, { KVM_CLONE_METRICS_ADDRESS: '', KVM_CLONE_LOG_FORMAT: '' })).toEqual({
      logFormat: 'json',
      metricsAddress: '0.0.0.0:9000',
    });
  });

  it('refuses a bad format or address with 1007', () => {
    for (const flags of [{ logFormat: 'xml' }, { metricsAddress: '9464' }, { metricsAddress: 'host name:80' }]) {
      expect(() => workerTelemetrySettings(flags, {}, {})).toThrow(KvmCloneError);
      try {
        workerTelemetrySettings(flags, {}, {});
      } catch (error) {
        expect((error as KvmCloneError).code).toBe(ErrorCode.VALIDATION_ERROR);
      }
    }
  });
});

describe('textLogLine', () => {
  it("prints an entry as the SDK's default logger does: time, level, message, metadata", () => {
    expect(textLogLine({ level: 'INFO', message: 'activity started', timestampNanos: at, meta: { attempt: 2 } })).toBe(
      '2026-01-31T02:00:00.123Z [INFO] activity started { attempt: 2 }\n',
    );
    expect(textLogLine({ level: 'WARN', message: 'no meta', timestampNanos: at })).toBe(
      '2026-01-31T02:00:00.123Z [WARN] no meta\n',
    );
  });
});
