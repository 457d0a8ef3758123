/**
 * Samples the CPU time of the lab hosts' sshd process trees every 100 ms, in a process of
 * its own so the sampling never counts as the measured client's CPU.
 *
 * Why sampling: sshd's session processes do not hand their children's CPU up to the
 * listening sshd (its cutime stays flat while a session hashes for 15 s), so a finished
 * `dd` leaves no trace. Each process's own time is read while it lives; a process that
 * ends between two samples loses at most 100 ms. Children's reaped time is not added,
 * since the children were sampled themselves.
 *
 * IPC: {type:'start', id} opens a window; {type:'stop', id} answers {type:'cpu', id, seconds}.
 * argv[2]: JSON array of the sshd listener pids.
 */
import { readFileSync } from 'node:fs';

const ticksPerSecond = 100;
const roots = JSON.parse(process.argv[2] ?? '[]') as number[];

function readProcess(pid: number): { key: string; own: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields 14/15 (utime, stime) and 22 (starttime), counted from 1 with pid and comm as 1 and 2.
    return { key: `${pid}:${fields[19]}`, own: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond };
  } catch {
    return undefined;
  }
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Latest own CPU seen per process (pid:starttime), across the life of this sampler. */
const latest = new Map<string, number>();

function sample(): void {
  const pending = [...roots];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    const proc = readProcess(pid);
    if (proc) latest.set(proc.key, proc.own);
    pending.push(...children(pid));
  }
}

const windows = new Map<string, Map<string, number>>();

setInterval(sample, 100);
process.on('message', (message: { type: string; id: string }) => {
  sample();
  if (message.type === 'start') {
    windows.set(message.id, new Map(latest));
  } else if (message.type === 'stop') {
    const start = windows.get(message.id) ?? new Map<string, number>();
    windows.delete(message.id);
    let seconds = 0;
    for (const [key, own] of latest) seconds += own - (start.get(key) ?? 0);
    process.send?.({ type: 'cpu', id: message.id, seconds });
  } else if (message.type === 'exit') {
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
