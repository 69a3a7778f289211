import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

const INCLUDE = ['relay/**/*.test.ts', 'protocol/**/*.test.ts', 'worklets/**/*.test.ts', 'app/**/*.test.ts'];

/**
 * Files that need the CPU to themselves: their assertions time real-time work that keeps the
 * cores busy (audio through worker pools judged by its level, telemetry rates of many live
 * stations, how long the event loop went without a turn, packet timing measured on both
 * sides of a UDP hop: RTP jitter and the jitter buffer's delays), or they spin two
 * threads against each other. With another file beside them on two cores they fail or
 * starve it, so they run one at a time, after the rest. A new test of that kind belongs here.
 */
const ALONE = [
  'relay/src/app-build.test.ts', // rebuilds build/ in place, which other files serve
  'relay/src/deploy/reverse-proxy.test.ts',
  'relay/src/media/ebu-r128.test.ts',
  'relay/src/media/egress-pool.test.ts',
  'relay/src/media/mix-pool.test.ts',
  'relay/src/media/pool.test.ts',
  'relay/src/rtp/rtp-ffmpeg.test.ts',
  'relay/src/rtp/rtp-impairment.test.ts',
  'relay/src/store/mix-export.test.ts',
  'relay/src/telemetry/telemetry.test.ts',
  'worklets/processors/frame-ring.test.ts',
  'worklets/processors/sample-ring.test.ts',
];

// Tests run in Node against real components: unit tests beside the code (x.test.ts),
// integration tests that start a real relay on 127.0.0.1 (in the test process, or as its own
// process where a test needs to kill or signal it).
//
// Most integration tests spend their time waiting on the wall clock (buckets of 5 s complete
// 1 s after their end), so two files run at a time even on two cores (vitest's default there
// is one); the files in ALONE run after them, alone.
export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './relay/src/testing/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: INCLUDE,
          exclude: [...configDefaults.exclude, ...ALONE],
          maxWorkers: Math.max(2, availableParallelism() - 1),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
