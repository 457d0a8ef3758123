import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
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
          include: ['test/integration/**/*.test.ts'],
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
