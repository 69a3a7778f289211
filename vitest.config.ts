import { defineConfig } from 'vitest/config';

// Tests run in Node against real components: unit tests beside the code (x.test.ts),
// integration tests that start a real relay on 127.0.0.1 (in the test process, or as its own
// process where a test needs to kill or signal it).
export default defineConfig({
  test: {
    environment: 'node',
    include: ['relay/**/*.test.ts', 'protocol/**/*.test.ts', 'worklets/**/*.test.ts', 'app/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './relay/src/testing/summary-reporter.ts'],
  },
});
