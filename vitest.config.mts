import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // `npm run coverage` (not in CI yet): lines of src/ run in this process and its forks.
    // Code run by child processes (the CLI from dist/, worker processes) is not counted.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'html', 'json-summary'],
      reportsDirectory: 'coverage',
      thresholds: { lines: 90 },
    },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          // Recording replay fixtures is a tool run by scripts/record-histories, not a test.
          include: ['test/integration/**/*.test.ts', ...(process.env.KVM_CLONE_RECORD_HISTORIES === '1' ? ['test/integration/**/*.record.ts'] : [])],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          // Worker processes, not threads: two files creating Temporal Workers in threads segfault.
          pool: 'forks',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Two cores: the lab's hosts, qemu and the relay compete with parallel test files.
          fileParallelism: false,
        },
      },
    ],
  },
});
