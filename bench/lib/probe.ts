import { execFile } from 'node:child_process';
import path from 'node:path';
import type { ProbeOutput } from './probe-child';

/** Runs probe-child.ts in a fresh Node process and returns its JSON line. */
export function runProbe(
  input: unknown,
  options: { withoutBinding?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<ProbeOutput> {
  const args = [
    ...(options.withoutBinding ? ['--require', path.join(__dirname, 'no-binding.cjs')] : []),
    '--import',
    'tsx',
    path.join(__dirname, 'probe-child.ts'),
    JSON.stringify(input),
  ];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      { env: { ...process.env, ...options.env }, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`probe failed: ${stderr.trim() || error.message}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ProbeOutput);
      },
    );
  });
}
