import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { skipWithout } from '../testing/tool-required.ts';
import {
  clippedSine,
  espeakSpeech,
  measurePeakDbfs,
  measureRmsDbfs,
  scaleToRmsDbfs,
  sine,
  speechLike,
  toInt16,
  whiteNoise,
} from './signals.ts';

const hasEspeak = spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' }).error === undefined;
const FS = 48000;

function rmsWindowsDbfs(x: Float32Array, window: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + window <= x.length; i += window) out.push(measureRmsDbfs(x, i, i + window));
  return out;
}

describe('sine', () => {
  it('a half-scale (-6.02 dBFS) sine measures -9.03 dBFS RMS; a -6.00 dBFS one -9.01', () => {
    const half = sine(1000, 20 * Math.log10(0.5), 1, FS);
    expect(half.length).toBe(48000);
    expect(measurePeakDbfs(half)).toBeCloseTo(-6.02, 2);
    expect(measureRmsDbfs(half)).toBeCloseTo(-9.03, 2);
    const x = sine(1000, -6, 1, FS);
    expect(measurePeakDbfs(x)).toBeCloseTo(-6, 3);
    expect(measureRmsDbfs(x)).toBeCloseTo(-9.0103, 3);
  });

  it('a full-scale sine measures -3.01 dBFS RMS and starts at phase 0', () => {
    const x = sine(997, 0, 2, 44100);
    expect(x[0]).toBe(0);
    expect(measureRmsDbfs(x)).toBeCloseTo(-3.0103, 3);
  });
});

describe('whiteNoise', () => {
  it('lands within 0.1 dB of the requested RMS', () => {
    for (const [rms, seed] of [[-20, 1], [-35, 2], [-6, 3]]) {
      expect(Math.abs(measureRmsDbfs(whiteNoise(rms, 1, FS, seed)) - rms)).toBeLessThan(0.1);
    }
  });

  it('is Gaussian, zero-mean and white', () => {
    const x = whiteNoise(-20, 2, FS);
    let m = 0;
    let m2 = 0;
    let m4 = 0;
    let lag1 = 0;
    for (let i = 0; i < x.length; i++) {
      m += x[i];
      m2 += x[i] ** 2;
      m4 += x[i] ** 4;
      if (i > 0) lag1 += x[i] * x[i - 1];
    }
    const n = x.length;
    expect(Math.abs(m / n)).toBeLessThan(0.001);
    expect((m4 / n) / (m2 / n) ** 2).toBeCloseTo(3, 1); // kurtosis 3: Gaussian (uniform would be 1.8)
    expect(Math.abs(lag1 / m2)).toBeLessThan(0.01); // no correlation between neighbours
  });

  it('is deterministic per seed', () => {
    expect(whiteNoise(-20, 0.1, FS, 7)).toEqual(whiteNoise(-20, 0.1, FS, 7));
    expect(whiteNoise(-20, 0.1, FS, 7)).not.toEqual(whiteNoise(-20, 0.1, FS, 8));
  });
});

describe('clippedSine', () => {
  it('is a clean sine at 0 dB drive', () => {
    const x = clippedSine(1000, 0, 1, FS);
    expect(measurePeakDbfs(x)).toBeCloseTo(0, 3);
    expect(measureRmsDbfs(x)).toBeCloseTo(-3.01, 2);
  });

  it('clips a +20 dB drive at full scale, with the analytic RMS and clipped fraction', () => {
    const a = 10; // +20 dB
    const x = clippedSine(997, 20, 2, FS); // 997 Hz: samples fall on all phases, not 48 fixed ones
    expect(measurePeakDbfs(x)).toBe(0);
    // A·sin clipped at 1 (θc = asin(1/A)): mean square = (2/π)[A²(θc/2 - sin(2θc)/4) + π/2 - θc].
    const tc = Math.asin(1 / a);
    const meanSquare = (2 / Math.PI) * (a * a * (tc / 2 - Math.sin(2 * tc) / 4) + Math.PI / 2 - tc);
    expect(measureRmsDbfs(x)).toBeCloseTo(10 * Math.log10(meanSquare), 2);
    const clipped = x.filter((v) => Math.abs(v) === 1).length / x.length;
    expect(clipped).toBeCloseTo(1 - (2 / Math.PI) * tc, 2);
  });
});

describe('speechLike', () => {
  const x = speechLike(-20, 20, 16000, 3);

  it('has the requested RMS over its full length and peaks below full scale', () => {
    expect(measureRmsDbfs(x)).toBeCloseTo(-20, 2);
    for (const seed of [1, 2, 3]) {
      const y = seed === 3 ? x : speechLike(-20, 20, 16000, seed);
      expect(measurePeakDbfs(y)).toBeLessThan(-0.5);
      expect(measurePeakDbfs(y)).toBeGreaterThan(-8);
    }
  });

  it('pauses and modulates like speech', () => {
    const w = rmsWindowsDbfs(x, 320); // 20 ms windows
    const silent = w.filter((v) => v === -Infinity).length / w.length;
    expect(silent).toBeGreaterThan(0.1);
    expect(silent).toBeLessThan(0.6);
    const active = w.filter((v) => v > -60).sort((p, q) => p - q);
    // Syllable envelopes: loud centres at least 20 dB above the quiet edges.
    expect(active[Math.floor(active.length * 0.95)] - active[Math.floor(active.length * 0.05)]).toBeGreaterThan(20);
  });

  it('is deterministic per seed and works at 8 kHz', () => {
    expect(speechLike(-20, 2, 8000, 5)).toEqual(speechLike(-20, 2, 8000, 5));
    expect(speechLike(-20, 2, 8000, 5)).not.toEqual(speechLike(-20, 2, 8000, 6));
    expect(measureRmsDbfs(speechLike(-30, 5, 8000, 5))).toBeCloseTo(-30, 2);
  });
});

describe('espeakSpeech', () => {
  it.skipIf(skipWithout('espeak-ng', hasEspeak))('synthesises speech at the requested rate', () => {
    const native = espeakSpeech('Testing one two three', 22050);
    const narrow = espeakSpeech('Testing one two three', 8000);
    if (native === null || narrow === null) throw new Error('espeak-ng is installed but gave no audio');
    expect(native.length / 22050).toBeGreaterThan(0.8);
    expect(native.length / 22050).toBeLessThan(5);
    expect(narrow.length / 8000).toBeCloseTo(native.length / 22050, 1);
    expect(measureRmsDbfs(native)).toBeGreaterThan(-40);
    expect(measureRmsDbfs(narrow)).toBeGreaterThan(-40);
  });

  it('returns null when espeak-ng cannot be found', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(espeakSpeech('hello', 16000)).toBeNull();
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('measurements and conversions', () => {
  it('measures silence and empty ranges as -Infinity and rejects bad ranges', () => {
    expect(measureRmsDbfs(new Float32Array(10))).toBe(-Infinity);
    expect(measurePeakDbfs(new Float32Array(10))).toBe(-Infinity);
    expect(measureRmsDbfs(new Float32Array(10), 4, 4)).toBe(-Infinity);
    expect(() => measureRmsDbfs(new Float32Array(10), 5, 11)).toThrow(RangeError);
    expect(() => measurePeakDbfs(new Float32Array(10), 6, 5)).toThrow(RangeError);
  });

  it('measures a sub-range', () => {
    const x = new Float32Array(200);
    x.set(sine(1000, -6, 100 / FS, FS), 100);
    expect(measureRmsDbfs(x, 100, 196)).toBeCloseTo(-9.0103, 3); // two whole cycles
    expect(measurePeakDbfs(x, 0, 100)).toBe(-Infinity);
  });

  it('scales a copy to an RMS level', () => {
    const x = whiteNoise(-30, 0.5, FS);
    const y = scaleToRmsDbfs(x, -12);
    expect(measureRmsDbfs(y)).toBeCloseTo(-12, 4);
    expect(measureRmsDbfs(x)).not.toBeCloseTo(-12, 1);
    expect(() => scaleToRmsDbfs(new Float32Array(8), -12)).toThrow(RangeError);
  });

  it('converts to int16 with rounding and saturation, exactly inverting value/32768', () => {
    expect([...toInt16(Float32Array.of(0, 0.5, -0.5, 1, -1, 1.5, -1.5, 1 / 65536))]).toEqual([0, 16384, -16384, 32767, -32768, 32767, -32768, 1]);
    const all = Float32Array.from({ length: 65536 }, (_, i) => (i - 32768) / 32768);
    expect(toInt16(all)).toEqual(Int16Array.from({ length: 65536 }, (_, i) => i - 32768));
  });
});
