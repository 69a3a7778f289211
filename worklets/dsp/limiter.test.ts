import { describe, expect, it } from 'vitest';
import { dbToAmp } from './constants.ts';
import { PeakLimiter } from './limiter.ts';
import { firstDifference, inBlocks, noise, peak, sine } from './test-signals.ts';

const FS = 48000;
const PLUS_12_DB = dbToAmp(12);

function limit(thresholdDbfs: number, input: Float32Array, block = 960): Float32Array {
  const l = new PeakLimiter(FS);
  l.set(thresholdDbfs);
  const out = input.slice();
  inBlocks(out, block, (b, n) => l.process(b, n));
  return out;
}

describe('PeakLimiter', () => {
  const hot: [string, Float32Array][] = [
    ['a full-scale square wave at +12 dB', new Float32Array(FS).map((_, i) => (i % 96 < 48 ? PLUS_12_DB : -PLUS_12_DB))],
    ['a sine clipped at full scale, then +12 dB', sine(FS, 997, 2, FS).map((v) => Math.max(-1, Math.min(1, v)) * PLUS_12_DB)],
    ['a +12 dB sine', sine(FS, 50, PLUS_12_DB, FS)],
    ['white noise peaking at +12 dB', noise(FS, PLUS_12_DB)],
    ['single-sample spikes on silence', new Float32Array(FS).map((_, i) => (i % 1000 === 0 ? 100 : 0))],
  ];
  for (const [name, input] of hot) {
    // -0.1 and -20 dBFS are thresholds whose amplitude rounds up when stored as float32.
    for (const threshold of [0, -0.1, -1, -6, -20, -24]) {
      it(`never lets ${name} exceed ${threshold} dBFS`, () => {
        const out = limit(threshold, input, 128);
        const ceiling = dbToAmp(threshold);
        for (let i = 0; i < out.length; i++) {
          if (!(Math.abs(out[i]) <= ceiling)) throw new Error(`sample ${i}: |${out[i]}| > ${ceiling}`);
        }
        // ... and limits to the ceiling, not below it (to float32 resolution).
        expect(peak(out)).toBeGreaterThan(ceiling * (1 - 1e-7));
      });
    }
  }

  it('passes a signal under the threshold bit for bit', () => {
    const input = sine(FS, 1000, dbToAmp(-6), FS);
    expect(firstDifference(limit(-1, input), input)).toBe(-1);
  });

  it('passes a signal again bit for bit once the release has recovered', () => {
    const input = sine(FS, 1000, dbToAmp(-6), 2 * FS);
    input[100] = 4;
    const out = limit(-1, input);
    expect(firstDifference(out.subarray(FS), input.subarray(FS))).toBe(-1); // ~20 time constants later: gain exactly 1
  });

  it('releases exponentially with a 50 ms time constant', () => {
    // One +12 dB spike on a -40 dBFS DC bed: gain drops to ceiling/spike, then 1 − g decays as e^(−t/50 ms).
    const bed = dbToAmp(-40);
    const input = new Float32Array(FS).fill(bed);
    input[0] = PLUS_12_DB;
    const out = limit(-1, input);
    const g0 = dbToAmp(-1) / PLUS_12_DB;
    const at = (ms: number) => out[(ms * FS) / 1000] / bed;
    for (const ms of [10, 50, 100, 200]) {
      expect(1 - at(ms)).toBeCloseTo((1 - g0) * Math.exp(-ms / 50), 4);
    }
  });

  it('gives the same output whatever the block size, and starts over after reset', () => {
    const input = noise(FS, 3, 11);
    expect(firstDifference(limit(-3, input, 128), limit(-3, input, 1021))).toBe(-1);
    const l = new PeakLimiter(FS);
    const a = new Float32Array([2, 0.5]);
    l.process(a, 2);
    l.reset();
    const b = new Float32Array([0.5]);
    l.process(b, 1);
    expect(b[0]).toBe(0.5);
    expect(a[1]).toBeLessThan(0.5);
  });
});
