import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { findTemporalBinary } from '../../src/temporal/binary';
import { startDevServer } from '../../src/temporal/dev-server';
import { findFreePort } from '../../src/temporal/free-port';

const root = path.resolve(__dirname, '../..');

declare module 'vitest' {
  export interface ProvidedContext {
    stubbedTemporalAddress: string;
    stubbedWorkflowBundlePath: string;
  }
}

/**
 * One real Temporal dev server (in memory) for the workflow tests, and the workflow code
 * bundled once. No lab: the tests' activities are stubs (test/helpers/stub-activities.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [binary, bundle] = await Promise.all([
    findTemporalBinary(),
    bundleWorkflowCode({
      workflowsPath: path.join(root, 'src/workflows/index.ts'),
      logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
    }),
  ]);
  if (!binary.path) throw new Error('no Temporal CLI: run scripts/setup first');
  const port = await findFreePort();
  const server = await startDevServer({ binary: binary.path, port, headless: true });

  // Under the prefix the coverage provider maps (workflow-bundle-*), so the workflow code these
  // tests run counts; its own name, so it never collides with the integration project's bundle.
  const bundlePath = path.join(root, `.cache/test/workflow-bundle-stubbed-${process.pid}.js`);
  await mkdir(path.dirname(bundlePath), { recursive: true });
  await writeFile(bundlePath, bundle.code);

  project.provide('stubbedTemporalAddress', server.address);
  project.provide('stubbedWorkflowBundlePath', bundlePath);

  return async () => {
    await server.stop();
    await rm(bundlePath, { force: true });
  };
}
