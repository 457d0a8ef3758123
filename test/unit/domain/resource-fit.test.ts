import { describe, expect, it } from 'vitest';
import { fitOutcome, resourceFit } from '../../../src/domain/resource-fit';

const GiB = 1024 ** 3;
const TiB = 1024 * GiB;
const host = { cpus: 2, totalMemoryBytes: 24 * GiB, availableMemoryBytes: 20 * GiB };
const context = { where: 'kvmlab-b@[127.0.0.3]:2222', newName: 'web_clone' };

describe('resourceFit', () => {
  it('fits a domain within the CPUs and the available memory, up to equality', () => {
    expect(resourceFit({ memoryBytes: 20 * GiB, vcpus: 2 }, host)).toEqual({ shortfalls: [], unchecked: [] });
  });

  it('finds more vCPUs than host CPUs and more memory than is available', () => {
    expect(resourceFit({ memoryBytes: 64 * TiB, vcpus: 3 }, host).shortfalls).toEqual([
      { resource: 'memory', wanted: 64 * TiB, available: 20 * GiB },
      { resource: 'vcpus', wanted: 3, available: 2 },
    ]);
    // Available, not total: memory that other guests hold counts against the clone.
    expect(resourceFit({ memoryBytes: 22 * GiB }, host).shortfalls).toHaveLength(1);
  });

  it('compares nothing the XML does not state, and marks what the host did not report', () => {
    expect(resourceFit({}, {})).toEqual({ shortfalls: [], unchecked: [] });
    expect(resourceFit({ memoryBytes: GiB, vcpus: 1 }, { totalMemoryBytes: 24 * GiB })).toEqual({
      shortfalls: [],
      unchecked: ['memory', 'vcpus'],
    });
  });
});

describe('fitOutcome', () => {
  const short = resourceFit({ memoryBytes: 64 * TiB, vcpus: 64 }, host);

  it('refuses a clone that is to start, naming what it asks for and what the host has', () => {
    const outcome = fitOutcome(short, { ...context, start: true });
    expect(outcome.refusal).toBe(
      "'web_clone' cannot start on kvmlab-b@[127.0.0.3]:2222: it asks for 64.0 TiB of memory and the host has 20.0 GiB available; it asks for 64 vCPUs and the host has 2 CPUs; clone without start, or free memory or CPUs there first",
    );
  });

  it('only warns for a clone that is not started', () => {
    const outcome = fitOutcome(short, { ...context, start: false });
    expect(outcome.refusal).toBeUndefined();
    expect(outcome.warnings).toEqual([
      "'web_clone' may not start on kvmlab-b@[127.0.0.3]:2222: it asks for 64.0 TiB of memory and the host has 20.0 GiB available (the clone is defined, not started)",
      "'web_clone' may not start on kvmlab-b@[127.0.0.3]:2222: it asks for 64 vCPUs and the host has 2 CPUs (the clone is defined, not started)",
    ]);
  });

  it('says so when the host did not report a resource, and says nothing when all fits', () => {
    expect(fitOutcome({ shortfalls: [], unchecked: ['vcpus'] }, { ...context, start: true })).toEqual({
      warnings: ["kvmlab-b@[127.0.0.3]:2222 did not report its CPUs, so the VM's vCPUs were not compared with it"],
    });
    expect(fitOutcome(resourceFit({ memoryBytes: GiB, vcpus: 1 }, host), { ...context, start: true })).toEqual({
      warnings: [],
    });
    expect(
      fitOutcome(
        { shortfalls: [{ resource: 'vcpus', wanted: 2, available: 1 }], unchecked: [] },
        { ...context, start: false },
      ).warnings[0],
    ).toContain('the host has 1 CPU (');
  });
});
