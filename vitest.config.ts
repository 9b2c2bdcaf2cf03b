import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Mutated copies of the tree live in .mutants/ and are imported by tests, never collected as tests.
    exclude: ['node_modules/**', '.mutants/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores on CI: forks keep property suites isolated without oversubscribing.
    pool: 'forks',
  },
});
