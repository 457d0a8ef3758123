/**
 * CPU and I/O accounting of the worker child from /proc: its sockets are its wire.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of the times in /proc/<pid>/stat; 100 on every Linux this runs on. */
const ticksPerSecond = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime of the process itself, seconds. */
  own: number;
  /** cutime + cstime: children it has waited for, seconds. */
  reaped: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const num = (index: number) => Number(fields[index - 3]);
    return {
      pid,
      ppid: num(4),
      own: (num(14) + num(15)) / ticksPerSecond,
      reaped: (num(16) + num(17)) / ticksPerSecond,
    };
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used, and optionally the children it has reaped. */
export function processCpuSeconds(pid: number, withReapedChildren = false): number {
  const stat = readStat(pid);
  if (!stat) return 0;
  return stat.own + (withReapedChildren ? stat.reaped : 0);
}

/** Bytes a process has passed through read()/write() (sockets included): /proc/<pid>/io. */
export function processIo(pid: number): { readBytes: number; writeBytes: number } {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { readBytes: field('rchar'), writeBytes: field('wchar') };
  } catch {
    return { readBytes: 0, writeBytes: 0 };
  }
}
