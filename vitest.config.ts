import { defineConfig } from 'vitest/config';

// Tests run in Node against real components: unit tests beside the code (x.test.ts),
// integration tests that start a real relay process on 127.0.0.1.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['relay/**/*.test.ts', 'protocol/**/*.test.ts', 'worklets/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './relay/src/testing/summary-reporter.ts'],
  },
});
