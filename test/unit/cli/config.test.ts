import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/cli/config-schema';
import { withTemporalEnvironment, type KvmCloneConfig } from '../../../src/cli/config';

const config = configSchema.parse({
  temporal: { address: 'file:7233', namespace: 'from-file', taskQueue: 'file-queue' },
}) as KvmCloneConfig;

describe('withTemporalEnvironment', () => {
  it('lets the environment point at another cluster, namespace and task queue', () => {
    const result = withTemporalEnvironment(config, {
      KVM_CLONE_TEMPORAL_ADDRESS: 'temporal.internal:7233',
      KVM_CLONE_TEMPORAL_NAMESPACE: 'prod',
      KVM_CLONE_TASK_QUEUE: 'kvm-a',
    });
    expect(result.temporal).toMatchObject({ address: 'temporal.internal:7233', namespace: 'prod', taskQueue: 'kvm-a' });
  });

  it('keeps the file where the environment says nothing, or an empty string', () => {
    expect(withTemporalEnvironment(config, { KVM_CLONE_TEMPORAL_ADDRESS: '' }).temporal).toMatchObject({
      address: 'file:7233',
      namespace: 'from-file',
      taskQueue: 'file-queue',
    });
  });
});
