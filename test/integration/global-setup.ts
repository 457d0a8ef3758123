import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { findTemporalBinary } from '../../src/temporal/binary';
import { startDevServer } from '../../src/temporal/dev-server';
import { findFreePort } from '../../src/temporal/free-port';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    labFile: string;
  }
}

/**
 * One real Temporal dev server (in memory) and one lab for the whole integration run,
 * and the workflow code bundled once.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [lab, binary, bundle] = await Promise.all([
    run(path.join(root, 'scripts/lab/up'), [], { maxBuffer: 16 * 1024 * 1024 }),
    findTemporalBinary(),
    bundleWorkflowCode({
      workflowsPath: path.join(root, 'src/workflows/index.ts'),
      logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
    }),
  ]);
  if (!binary.path) throw new Error('no Temporal CLI: run scripts/setup first');
  const port = await findFreePort();
  const server = await startDevServer({ binary: binary.path, port, uiPort: await findFreePort(), headless: true });

  // One file per run, so concurrent runs on one machine never read each other's half-written bundle.
  const bundlePath = path.join(root, `.cache/test/workflow-bundle-${process.pid}.js`);
  await mkdir(path.dirname(bundlePath), { recursive: true });
  await writeFile(bundlePath, bundle.code);

  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('labFile', lab.stdout.trim());

  return async () => {
    await server.stop();
    await rm(bundlePath, { force: true });
    if (!process.env.KVM_CLONE_KEEP_LAB) await run(path.join(root, 'scripts/lab/down'));
  };
}
