/**
 * scheduledCloneVM, the workflow a schedule starts: the clone's new name is filled in from
 * the run's start time, and the rest is cloneVM.
 */
import { describe, expect, it } from 'vitest';
import { useStubWorker } from '../helpers/stub-worker';
import { DESTINATION, SOURCE, VM, healthyHosts } from './stub-vm';

const env = useStubWorker(healthyHosts);
const clone = { source: SOURCE, destination: DESTINATION, vmName: VM };

/** `{datetime}` as the workflow fills it in: YYYYMMDD-HHMMSS, UTC. */
function datetime(time: Date): string {
  return time.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
}

describe.concurrent('scheduledCloneVM', () => {
  it("clones to the new name's template filled in from the run's start time", async () => {
    const notify = { webhooks: [{ url: 'https://hooks.example.com/kvm-clone' }] };
    const run = await env().start('scheduledCloneVM', { ...clone, newName: 'web01-{datetime}', notify });
    const result = await run.result();

    const { startTime } = await run.handle.describe();
    const newName = `web01-${datetime(startTime)}`;
    expect(result).toMatchObject({ success: true, newName });
    expect(run.activities.inputOf('acquireDestinationLock').name).toBe(newName);
    expect(run.activities.inputOf('checkDestination').newName).toBe(newName);
    expect(run.activities.inputOf('defineClone').rewrite.newName).toBe(newName);
    expect(run.activities.inputOf('notify').document.targetName).toBe(newName);
  });

  it('clones to a plain new name, or the default one, as cloneVM does', async () => {
    const named = await env().start('scheduledCloneVM', { ...clone, newName: 'web01-standby' });
    const unnamed = await env().start('scheduledCloneVM', clone);

    expect((await named.result()).newName).toBe('web01-standby');
    expect((await unnamed.result()).newName).toBe('web01_clone');
    expect(named.activities.names()).toEqual(unnamed.activities.names());
  });
});
