import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // On in `npm test` (scripts/test passes --coverage, so CI fails below the floor) and
    // `npm run coverage`; off for `npx vitest run <files>`, where a subset would miss the floor.
    // The provider is Vitest's v8 provider plus the src/ code run outside the test processes:
    // the CLI binary (dist/, mapped back through tsc's source maps) and workflow code (the
    // Temporal SDK's webpack bundle, in worker threads). How: test/helpers/coverage-provider.mts.
    coverage: {
      provider: 'custom',
      customProviderModule: './test/helpers/coverage-provider.mts',
      // Every file of src/, loaded by a test or not; nothing is excluded.
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'html', 'json-summary'],
      reportsDirectory: 'coverage',
      // The report is also useful when a test failed (the run fails anyway).
      reportOnFailure: true,
      // 90 % of lines (issue 8). A full run measured 96.7 % (unit tests alone: 44 %).
      thresholds: { lines: 90 },
    },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // The Temporal SDK's log goes to a file per test file, printed when a test fails.
          setupFiles: ['test/helpers/test-log-setup.ts'],
        },
      },
      {
        test: {
          name: 'workflows',
          // The real workflows on a real dev server, with stub activities: no lab, no VMs.
          include: ['test/workflows/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/workflows/global-setup.ts'],
          // The Temporal SDK's log goes to a file per test file, printed when a test fails.
          setupFiles: ['test/helpers/test-log-setup.ts'],
          // Worker processes, not threads: two files creating Temporal Workers in threads segfault.
          pool: 'forks',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          // Recording replay fixtures is a tool run by scripts/record-histories, not a test.
          include: [
            'test/integration/**/*.test.ts',
            ...(process.env.KVM_CLONE_RECORD_HISTORIES === '1' ? ['test/integration/**/*.record.ts'] : []),
          ],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          // The Temporal SDK's log goes to a file per test file, printed when a test fails.
          setupFiles: ['test/helpers/test-log-setup.ts'],
          // Worker processes, not threads: two files creating Temporal Workers in threads segfault.
          pool: 'forks',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Two cores: the lab's hosts, qemu and the relay compete with parallel test files.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'faults',
          // One real operation per case on the lab, with one fault injected at a chosen point
          // (a cut SSH session, a stopped sshd or Temporal server, a killed worker, a full disk,
          // a vanished source), and what each host holds afterwards asserted.
          include: ['test/faults/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          // The Temporal SDK's log goes to a file per test file, printed when a test fails.
          setupFiles: ['test/helpers/test-log-setup.ts'],
          // Worker processes, not threads: two files creating Temporal Workers in threads segfault.
          pool: 'forks',
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // Like the integration project's files: they share the lab and the two cores.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'production',
          // Clone, sync and a schedule, and the two-worker test, against a Temporal server on
          // PostgreSQL with the config docker-compose.yml ships (test/production/global-setup.ts).
          include: ['test/production/**/*.test.ts', 'test/integration/workflows/scale-out.test.ts'],
          environment: 'node',
          globalSetup: ['test/production/global-setup.ts'],
          // The Temporal SDK's log goes to a file per test file, printed when a test fails.
          setupFiles: ['test/helpers/test-log-setup.ts'],
          // Worker processes, not threads: two files creating Temporal Workers in threads segfault.
          pool: 'forks',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Like the integration project's files, so vitest runs the files of both one at a time
          // (they share the lab and the two cores), after the unit and workflows projects.
          fileParallelism: false,
        },
      },
    ],
  },
});
