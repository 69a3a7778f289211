import { configDefaults, defineConfig } from 'vitest/config';

const INCLUDE = ['e2e/**/*.test.ts'];

/**
 * Browser tests that judge timing or audio the page produces in real time (capture, playback,
 * levels heard, meters against the relay's, render times): they run one at a time, after the
 * rest, with nothing beside them. A new browser test of that kind belongs here.
 */
const ALONE = [
  'e2e/adaptive-bitrate.test.ts',
  'e2e/capture.test.ts',
  'e2e/capture-webrtc.test.ts',
  'e2e/https-phone.test.ts',
  'e2e/listen.test.ts',
  'e2e/listen-webrtc.test.ts',
  'e2e/loudness.test.ts',
  'e2e/monitor-ab.test.ts',
  'e2e/monitor-history-12h.test.ts',
  'e2e/monitor-spectrum.test.ts',
  'e2e/monitor-traces.test.ts',
  'e2e/monitor.test.ts',
  'e2e/webrtc.test.ts',
];

// Browser tests: real headless Chromium (Debian's /usr/bin/chromium) against a real relay.
// The rest mostly wait for buckets to complete, so two of them run at a time; the files in
// ALONE run after them, one at a time (each runs a browser, a relay and real-time audio on
// two cores). Files share one process per worker (no isolation): each starts and closes its
// own relay and browser, and this saves loading the relay and playwright for every file.
export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    isolate: false,
    reporters: ['default', './relay/src/testing/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'e2e-shared', include: INCLUDE, exclude: [...configDefaults.exclude, ...ALONE], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'e2e-alone', include: ALONE, maxWorkers: 1, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
