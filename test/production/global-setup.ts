import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startProductionTemporal } from '../helpers/temporal-server';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

/**
 * The integration setup with the production server in place of the dev server: PostgreSQL,
 * the schema, and the Temporal server with the config docker-compose.yml ships
 * (test/helpers/temporal-server.ts); the lab; the workflow code bundled once. It provides
 * the same keys as test/integration/global-setup.ts, so the integration helpers and test
 * files run unchanged against it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The server's output of the last run, kept for a look after a failure.
  const logFile = path.join(root, '.cache/test/logs/temporal-server.log');
  await mkdir(path.dirname(logFile), { recursive: true });
  await writeFile(logFile, '');
  const [lab, temporal, bundle] = await Promise.allSettled([
    run(path.join(root, 'scripts/lab/up'), [], { maxBuffer: 16 * 1024 * 1024 }),
    startProductionTemporal(logFile),
    bundleWorkflowCode({
      workflowsPath: path.join(root, 'src/workflows/index.ts'),
      logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
    }),
  ]);
  if (lab.status === 'rejected' || temporal.status === 'rejected' || bundle.status === 'rejected') {
    if (temporal.status === 'fulfilled') await temporal.value.stop();
    throw [lab, temporal, bundle].flatMap((result) => (result.status === 'rejected' ? [result.reason] : []))[0];
  }

  const bundlePath = path.join(root, `.cache/test/workflow-bundle-${process.pid}.js`);
  await mkdir(path.dirname(bundlePath), { recursive: true });
  await writeFile(bundlePath, bundle.value.code);

  project.provide('temporalAddress', temporal.value.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('labFile', lab.value.stdout.trim());

  return async () => {
    await temporal.value.stop();
    await rm(bundlePath, { force: true });
    if (!process.env.KVM_CLONE_KEEP_LAB) await run(path.join(root, 'scripts/lab/down'));
  };
}
