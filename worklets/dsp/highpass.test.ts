import { describe, expect, it } from 'vitest';
import { HighPassFilter } from './highpass.ts';
import { db, inBlocks, peak, rms, sine } from './test-signals.ts';

/** Steady-state gain in dB of the filter for a sine at hz (1 s settle, 1 s measured). */
function gainDb(sampleRate: number, cutoffHz: number, hz: number): number {
  const f = new HighPassFilter(sampleRate);
  f.set(cutoffHz);
  const input = sine(sampleRate, hz, 0.5, 2 * sampleRate);
  const out = input.slice();
  inBlocks(out, 960, (b, n) => f.process(b, n));
  return db(rms(out, sampleRate) / rms(input, sampleRate));
}

/** 2nd-order Butterworth magnitude, analog prototype: 1 / sqrt(1 + (fc/f)^4). */
function butterworthDb(cutoffHz: number, hz: number): number {
  return -10 * Math.log10(1 + (cutoffHz / hz) ** 4);
}

describe('HighPassFilter (2nd-order Butterworth)', () => {
  for (const [fs, fc] of [[48000, 80], [48000, 20], [48000, 400], [16000, 80], [8000, 300]]) {
    it(`at ${fs} Hz, cutoff ${fc} Hz: -3.01 dB at cutoff, flat at 10×, 12 dB/octave below`, () => {
      expect(gainDb(fs, fc, fc)).toBeCloseTo(-3.01, 1);
      expect(gainDb(fs, fc, 10 * fc)).toBeGreaterThanOrEqual(-0.1);
      expect(gainDb(fs, fc, 10 * fc)).toBeLessThanOrEqual(0.01);
      // One and two octaves down: -12.3 and -24.1 dB.
      expect(Math.abs(gainDb(fs, fc, fc / 2) - butterworthDb(fc, fc / 2))).toBeLessThan(0.2);
      expect(Math.abs(gainDb(fs, fc, fc / 4) - butterworthDb(fc, fc / 4))).toBeLessThan(0.3);
    });
  }

  it('removes DC', () => {
    const f = new HighPassFilter(48000);
    const buf = new Float32Array(48000).fill(0.5);
    inBlocks(buf, 960, (b, n) => f.process(b, n));
    expect(peak(buf, 43200, 48000)).toBeLessThan(1e-6);
  });

  it('keeps its state across a retune and clears it on reset', () => {
    const f = new HighPassFilter(48000);
    const buf = new Float32Array(4).fill(0.5);
    f.process(buf, 4);
    f.set(100);
    const next = new Float32Array(1).fill(0.5);
    f.process(next, 1);
    f.reset();
    const fresh = new Float32Array(1).fill(0.5);
    f.process(fresh, 1);
    expect(next[0]).not.toBe(fresh[0]);
    const other = new HighPassFilter(48000);
    other.set(100);
    const ref = new Float32Array(1).fill(0.5);
    other.process(ref, 1);
    expect(fresh[0]).toBe(ref[0]);
  });

  it('rejects a non-finite cutoff', () => {
    expect(() => new HighPassFilter(48000).set(Number.NaN)).toThrow(RangeError);
  });
});
