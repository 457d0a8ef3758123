'use strict';
/**
 * A kvm-clone worker in its own process, so the harness can measure its CPU, its socket
 * bytes and its memory alone, and SIGKILL it mid-copy. Started with fork() (IPC channel)
 * and one JSON argument; sends {type:'ready'} once polling.
 *
 * Plain JavaScript on the compiled dist/ (with the workflow bundle `npm run build` writes),
 * so that what is measured is the worker users run: under tsx, the transpiler alone added
 * ~45 MB of RSS.
 *
 * IPC: {type:'reset'} starts a new memory window; {type:'peak'} answers with the window's
 * peak RSS (VmHWM when the kernel lets us reset it, else 20 ms sampling) and peak heap
 * (a MemoryPeak, bench/lib/memory-peak.ts).
 */
const { readFileSync, writeFileSync } = require('node:fs');
const { DefaultLogger, NativeConnection, Runtime } = require('@temporalio/worker');
const { sshCryptoBindingLoaded } = require('../../dist/hosts/crypto-binding');
const { createKvmCloneWorker } = require('../../dist/worker');

let peakRss = 0;
let peakHeap = 0;
let peakExternal = 0;
let hwmResettable = false;
let startRss = 0;

function sample() {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakHeap = Math.max(peakHeap, usage.heapUsed);
  peakExternal = Math.max(peakExternal, usage.external + usage.arrayBuffers);
}

function readHwm() {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

function resetWindow() {
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

async function main() {
  /** @type {{ address: string, taskQueue: string, hosts: Record<string, unknown> }} */
  const options = JSON.parse(process.argv[2] ?? '{}');
  // The SDK logs every worker state change at INFO; the bench table is what matters.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: options.address });
  const { worker, deps } = await createKvmCloneWorker({
    connection,
    taskQueue: options.taskQueue,
    hosts: options.hosts,
    policy: options.policy,
  });
  const running = worker.run();
  setInterval(sample, 20).unref();
  resetWindow();
  process.on('message', (message) => {
    if (message.type === 'reset') {
      resetWindow();
      process.send?.({ type: 'reset-done' });
    } else if (message.type === 'peak') {
      sample();
      const hwm = hwmResettable ? readHwm() : 0;
      process.send?.({
        type: 'peak',
        rssBytes: Math.max(peakRss, hwm),
        heapUsedBytes: peakHeap,
        externalBytes: peakExternal,
        startRssBytes: startRss,
        method: hwmResettable ? 'VmHWM' : 'sampled',
      });
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

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
