import { spawn } from 'node:child_process';

/** POSIX single-quoting, for the shell lines the baselines run. */
export function q(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface ShellOutcome {
  stdout: string;
  stderr: string;
  /** CPU seconds of every process the script ran on this machine (bash `times`). */
  childCpuSeconds: number;
}

function seconds(text: string): number {
  const match = /^(\d+)m([\d.]+)s$/.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : 0;
}

/**
 * Runs a bash script with pipefail and rejects when it fails. The CPU time of the
 * processes it started comes from bash's `times` builtin, printed on a file descriptor of its own.
 */
export function runShell(
  script: string,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ShellOutcome> {
  const wrapped = `set -o pipefail\n{\n${script}\n}\nrc=$?\ntimes >&3\nexit $rc\n`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', wrapped], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const times: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => times.push(chunk));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      // Second line of `times`: user and system time of the children.
      const childLine = Buffer.concat(times).toString('utf8').trim().split('\n')[1] ?? '';
      const [user = '', system = ''] = childLine.trim().split(/\s+/);
      if (code !== 0) {
        reject(
          new Error(
            `script failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000) || script.slice(0, 300)}`,
          ),
        );
        return;
      }
      resolve({ stdout, stderr, childCpuSeconds: seconds(user) + seconds(system) });
    });
  });
}
