import { describe, expect, it } from 'vitest';
import { OnsetDetector } from './onset-detector.ts';
import { sine } from './test-signals.ts';

const RATE = 48000;

/** Silence, then a -12 dBFS 1 kHz burst starting at `at`, processed in 128-sample blocks. */
function detect(d: OnsetDetector, total: number, bursts: { at: number; samples: number; amp?: number }[], first = 0): void {
  const x = new Float32Array(total);
  for (const b of bursts) x.set(sine(RATE, 1000, b.amp ?? 0.25, b.samples, Math.PI / 2), b.at);
  for (let i = 0; i < total; i += 128) d.process(x.subarray(i, i + 128), Math.min(128, total - i), first + i);
}

describe('OnsetDetector', () => {
  it('finds the first sample of a burst after silence, to the sample', () => {
    const d = new OnsetDetector(RATE);
    detect(d, RATE, [{ at: 12_345, samples: 4800 }], 1_000_000);
    expect(d.onsets).toBe(1);
    expect(d.lastOnsetSample).toBe(1_000_000 + 12_345);
  });

  it('counts one onset per burst, and none inside a tone', () => {
    const d = new OnsetDetector(RATE, { minQuietMs: 150 });
    detect(d, 3 * RATE, [
      { at: 10_000, samples: 9600 },
      { at: 40_000, samples: 48_000 },
    ]);
    expect(d.onsets).toBe(2);
    expect(d.lastOnsetSample).toBe(40_000);
  });

  it('ignores a burst that follows too little silence, and one under the threshold', () => {
    const d = new OnsetDetector(RATE, { minQuietMs: 150 });
    // 100 ms of silence between bursts: the second does not count.
    detect(d, RATE, [
      { at: 10_000, samples: 4800 },
      { at: 10_000 + 4800 + 4800, samples: 4800 },
      { at: 40_000, samples: 4800, amp: 0.01 }, // -40 dBFS, under -30
    ]);
    expect(d.onsets).toBe(1);
    expect(d.lastOnsetSample).toBe(10_000);
  });

  it('takes an onset smeared by a codec (a few ms of low-level pre-echo) at its threshold crossing, but not a slow fade-in', () => {
    const d = new OnsetDetector(RATE, { maxRiseMs: 10 });
    const x = new Float32Array(2 * RATE);
    // 4 ms at -40 dBFS (over the -50 quiet level, under the -30 threshold), then the burst.
    for (let i = 0; i < 192; i++) x[20_000 + i] = 0.01 * (i % 2 === 0 ? 1 : -1);
    x.set(sine(RATE, 1000, 0.25, 4800, Math.PI / 2), 20_192);
    // A 500 ms linear fade-in from silence later on: 60 ms from -50 to -30 dBFS, no onset.
    for (let i = 0; i < 24_000; i++) x[40_000 + i] = ((0.25 * i) / 24_000) * (i % 2 === 0 ? 1 : -1);
    for (let i = 0; i < x.length; i += 128) d.process(x.subarray(i, i + 128), Math.min(128, x.length - i), i);
    expect(d.onsets).toBe(1);
    expect(d.lastOnsetSample).toBe(20_192);
  });

  it('counts nothing after silence it was told is not the station\'s (disarm)', () => {
    const d = new OnsetDetector(RATE);
    const x = new Float32Array(RATE);
    x.set(sine(RATE, 1000, 0.25, 4800, Math.PI / 2), 20_000);
    for (let i = 0; i < RATE; i += 128) {
      if (i < 19_968) d.disarm(); // the player was buffering until just before the burst
      d.process(x.subarray(i, i + 128), Math.min(128, RATE - i), i);
    }
    expect(d.onsets).toBe(0);
  });
});
