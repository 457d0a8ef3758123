import { describe, expect, it } from 'vitest';
import { embeddedWorkerPolicy } from '../../../src/cli/in-process-worker';
import { workerPolicySchema } from '../../../src/domain/schemas/worker-policy';

describe('embeddedWorkerPolicy', () => {
  it("turns host references on for a command's own worker, whose user gives the names", () => {
    expect(embeddedWorkerPolicy({})).toEqual({ hostReferences: true });
    const policy = workerPolicySchema.parse({ webhookUrls: ['https://hooks.example/kvm/'] });
    expect(embeddedWorkerPolicy({ policy })).toMatchObject({
      hostReferences: true,
      inlineHosts: false,
      webhookUrls: ['https://hooks.example/kvm/'],
    });
  });

  it('keeps them off when the config says so', () => {
    expect(embeddedWorkerPolicy({ policy: workerPolicySchema.parse({ hostReferences: false }) }).hostReferences).toBe(
      false,
    );
  });
});
