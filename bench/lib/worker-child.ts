/**
 * A kvm-clone worker in its own process, so the harness can measure its CPU, its socket
 * bytes and its memory alone, and SIGKILL it mid-copy. Started with fork() (IPC channel)
 * and one JSON argument; sends {type:'ready'} once polling.
 *
 * IPC: {type:'reset'} starts a new memory window; {type:'peak'} answers with the window's
 * peak RSS (VmHWM when the kernel lets us reset it, else 20 ms sampling) and peak heap.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { HostSpecInput } from '../../src/domain/schemas/host';
import { sshCryptoBindingLoaded } from '../../src/hosts/crypto-binding';
import { createKvmCloneWorker } from '../../src/worker';

interface WorkerChildOptions {
  address: string;
  taskQueue: string;
  hosts: Record<string, HostSpecInput>;
  workflowBundlePath: string;
}

export interface MemoryPeak {
  type: 'peak';
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  /** RSS when the window opened: the idle worker. */
  startRssBytes: number;
  /** How rssBytes was taken. */
  method: 'VmHWM' | 'sampled';
}

let peakRss = 0;
let peakHeap = 0;
let peakExternal = 0;
let hwmResettable = false;
let startRss = 0;

function sample(): void {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakHeap = Math.max(peakHeap, usage.heapUsed);
  peakExternal = Math.max(peakExternal, usage.external + usage.arrayBuffers);
}

function readHwm(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

function resetWindow(): void {
  peakRss = 0;
  peakHeap = 0;
  peakExternal = 0;
  try {
    // "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
    writeFileSync('/proc/self/clear_refs', '5');
    hwmResettable = true;
  } catch {
    hwmResettable = false;
  }
  sample();
  startRss = process.memoryUsage.rss();
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as WorkerChildOptions;
  // The SDK logs every worker state change at INFO; the bench table is what matters.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: options.address });
  const { worker, deps } = await createKvmCloneWorker({
    connection,
    taskQueue: options.taskQueue,
    hosts: options.hosts,
    workflowBundle: { codePath: options.workflowBundlePath },
  });
  const running = worker.run();
  setInterval(sample, 20).unref();
  resetWindow();
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'reset') {
      resetWindow();
      process.send?.({ type: 'reset-done' });
    } else if (message.type === 'peak') {
      sample();
      const hwm = hwmResettable ? readHwm() : 0;
      const peak: MemoryPeak = {
        type: 'peak',
        rssBytes: Math.max(peakRss, hwm),
        heapUsedBytes: peakHeap,
        externalBytes: peakExternal,
        startRssBytes: startRss,
        method: hwmResettable ? 'VmHWM' : 'sampled',
      };
      process.send?.(peak);
    } else if (message.type === 'stop') {
      worker.shutdown();
    }
  });
  process.on('SIGTERM', () => worker.shutdown());
  process.send?.({ type: 'ready', bindingLoaded: sshCryptoBindingLoaded() });
  await running;
  deps.pool.closeAll();
  await connection.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
