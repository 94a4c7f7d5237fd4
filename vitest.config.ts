import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/infra/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/fixtures/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two cores, and each chDB process holds about 600 MB: one integration file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
