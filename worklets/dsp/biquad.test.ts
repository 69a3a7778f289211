import { describe, expect, it } from 'vitest';
import {
  Biquad,
  type BiquadCoefficients,
  highpassCoefficients,
  kWeightingHighpassCoefficients,
  kWeightingShelfCoefficients,
} from './biquad.ts';
import { firstDifference, noise } from './test-signals.ts';

/** |H(e^jω)| in dB, evaluated from the coefficients. */
function responseDb(c: BiquadCoefficients, hz: number, sampleRate: number): number {
  const w = (2 * Math.PI * hz) / sampleRate;
  const nr = c.b0 + c.b1 * Math.cos(w) + c.b2 * Math.cos(2 * w);
  const ni = -(c.b1 * Math.sin(w) + c.b2 * Math.sin(2 * w));
  const dr = 1 + c.a1 * Math.cos(w) + c.a2 * Math.cos(2 * w);
  const di = -(c.a1 * Math.sin(w) + c.a2 * Math.sin(2 * w));
  return 10 * Math.log10((nr * nr + ni * ni) / (dr * dr + di * di));
}

function kResponseDb(hz: number, sampleRate: number): number {
  return responseDb(kWeightingShelfCoefficients(sampleRate), hz, sampleRate) + responseDb(kWeightingHighpassCoefficients(sampleRate), hz, sampleRate);
}

describe('K-weighting (ITU-R BS.1770-4 Annex 1)', () => {
  it('reproduces the standard\'s stage 1 (shelf) table at 48 kHz', () => {
    const c = kWeightingShelfCoefficients(48000);
    expect(c.b0).toBeCloseTo(1.53512485958697, 12);
    expect(c.b1).toBeCloseTo(-2.69169618940638, 12);
    expect(c.b2).toBeCloseTo(1.19839281085285, 12);
    expect(c.a1).toBeCloseTo(-1.69065929318241, 12);
    expect(c.a2).toBeCloseTo(0.73248077421585, 12);
  });

  it('reproduces the standard\'s stage 2 (RLB high-pass) table at 48 kHz', () => {
    const c = kWeightingHighpassCoefficients(48000);
    expect([c.b0, c.b1, c.b2]).toEqual([1, -2, 1]);
    expect(c.a1).toBeCloseTo(-1.99004745483398, 12);
    expect(c.a2).toBeCloseTo(0.99007225036621, 12);
  });

  it('has +0.691 dB at 997 Hz, the gain the -0.691 LUFS offset cancels', () => {
    expect(kResponseDb(997, 48000)).toBeCloseTo(0.691, 3);
  });

  it('has the known curve: -13.3 dB at 20 Hz, -1.1 dB at 100 Hz, +4 dB shelf above 5 kHz', () => {
    expect(kResponseDb(20, 48000)).toBeCloseTo(-13.28, 1);
    expect(kResponseDb(100, 48000)).toBeCloseTo(-1.13, 1);
    expect(Math.abs(kResponseDb(10000, 48000) - 4.0)).toBeLessThan(0.1);
  });

  it('follows the 48 kHz curve at 8, 16 and 44.1 kHz, and matches it at 997 Hz', () => {
    for (const [fs, tolerance] of [[8000, 0.45], [16000, 0.13], [44100, 0.01]]) {
      expect(Math.abs(kResponseDb(997, fs) - kResponseDb(997, 48000))).toBeLessThan(0.05);
      for (const hz of [20, 50, 100, 300, 1000, 0.25 * fs, 0.375 * fs]) {
        expect(Math.abs(kResponseDb(hz, fs) - kResponseDb(hz, 48000))).toBeLessThan(tolerance);
      }
    }
  });
});

describe('highpassCoefficients (RBJ cookbook, Butterworth Q)', () => {
  it('is -3.01 dB at the cutoff, 0 dB at Nyquist, and zero at DC', () => {
    for (const [fs, fc] of [[48000, 80], [16000, 400], [8000, 20]]) {
      const c = highpassCoefficients(fs, fc);
      expect(responseDb(c, fc, fs)).toBeCloseTo(-3.0103, 3);
      expect(responseDb(c, fs / 2 - 1e-9, fs)).toBeCloseTo(0, 6);
      expect(c.b0 + c.b1 + c.b2).toBeCloseTo(0, 15);
    }
  });
});

describe('Biquad', () => {
  it('gives the known impulse response of a one-pole section', () => {
    const f = new Biquad();
    f.setCoefficients(1, 0, 0, -0.5, 0); // y[n] = x[n] + 0.5·y[n-1]
    const buf = new Float32Array([1, 0, 0, 0, 0]);
    f.process(buf, buf.length);
    expect(Array.from(buf)).toEqual([1, 0.5, 0.25, 0.125, 0.0625]);
  });

  it('gives the known impulse response of an FIR section, and only processes length samples', () => {
    const f = new Biquad({ b0: 0.25, b1: 0.5, b2: 0.25, a1: 0, a2: 0 });
    const buf = new Float32Array([1, 0, 0, 0, 9]);
    f.process(buf, 4);
    expect(Array.from(buf)).toEqual([0.25, 0.5, 0.25, 0, 9]);
  });

  it('gives the same output per sample, per block of any size', () => {
    const c = kWeightingShelfCoefficients(48000);
    const input = noise(4800, 0.5);
    const whole = input.slice();
    new Biquad(c).process(whole, whole.length);
    const bySample = new Biquad(c);
    const blocks = input.slice();
    const byBlock = new Biquad(c);
    for (let i = 0; i < input.length; i += 77) byBlock.process(blocks.subarray(i, i + 77), Math.min(77, input.length - i));
    for (let i = 0; i < input.length; i++) {
      expect(Math.fround(bySample.processSample(input[i]))).toBe(whole[i]);
      expect(blocks[i]).toBe(whole[i]);
    }
  });

  it('starts from silence after reset', () => {
    const f = new Biquad(highpassCoefficients(48000, 100));
    const a = noise(256, 0.5);
    const first = a.slice();
    f.process(first, first.length);
    const again = a.slice();
    f.reset();
    f.process(again, again.length);
    expect(firstDifference(again, first)).toBe(-1);
  });

  it('recovers from a NaN at the next block instead of staying NaN forever', () => {
    const f = new Biquad(highpassCoefficients(48000, 100));
    const bad = new Float32Array([0.1, Number.NaN, 0.1]);
    f.process(bad, 3);
    const next = new Float32Array([0.5, 0.5]);
    f.process(next, 2);
    expect(next[0]).toBe(Math.fround(highpassCoefficients(48000, 100).b0 * 0.5));
  });
});
