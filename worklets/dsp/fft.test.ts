import { describe, expect, it } from 'vitest';
import { RealFft } from './fft.ts';
import { noise, sine } from './test-signals.ts';

/** |X[k]|² for k = 0..N/2 by the O(N²) definition, in Float64 (the angle reduced mod N so it stays exact). */
function naivePower(x: Float32Array): Float64Array {
  const n = x.length;
  const out = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) {
    let re = 0, im = 0;
    for (let t = 0; t < n; t++) {
      const a = (2 * Math.PI * ((k * t) % n)) / n;
      re += x[t] * Math.cos(a);
      im -= x[t] * Math.sin(a);
    }
    out[k] = re * re + im * im;
  }
  return out;
}

function spectrum(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length / 2 + 1);
  new RealFft(x.length).powerSpectrum(x, out);
  return out;
}

describe('RealFft', () => {
  it('puts a sine exactly on bin k into bin k, (A·N/2)² of it', () => {
    for (const [n, k] of [[512, 7], [4096, 85], [8192, 1], [8192, 4095]]) {
      const p = spectrum(sine(n, k, 0.5, n)); // sampleRate = n: hz = k lands on bin k
      let total = 0;
      for (let i = 0; i < p.length; i++) total += p[i];
      expect(p[k] / ((0.5 * n) / 2) ** 2).toBeCloseTo(1, 6);
      expect(p[k] / total).toBeGreaterThan(1 - 1e-9);
    }
  });

  it('puts the alternating sequence (+1, -1, ...) into the Nyquist bin, N²', () => {
    const n = 1024;
    const x = new Float32Array(n).map((_, i) => (i % 2 === 0 ? 1 : -1));
    const p = spectrum(x);
    expect(p[n / 2]).toBe(n * n);
    for (let k = 0; k < n / 2; k++) expect(p[k]).toBeLessThan(1e-12 * n * n);
  });

  it('puts a constant c into bin 0 as (c·N)², nothing elsewhere', () => {
    const n = 2048;
    const p = spectrum(new Float32Array(n).fill(0.25));
    expect(p[0]).toBe((0.25 * n) ** 2);
    for (let k = 1; k <= n / 2; k++) expect(p[k]).toBeLessThan(1e-12 * p[0]);
  });

  it("satisfies Parseval's theorem: Σ|X[k]|² over all N bins = N·Σx²", () => {
    for (const n of [2, 4, 64, 512, 8192]) {
      const x = noise(n, 0.8, n);
      const p = spectrum(x);
      let energy = 0;
      for (let i = 0; i < n; i++) energy += x[i] * x[i];
      // Bins 1..N/2-1 stand for their mirror images N-k as well; 0 and N/2 are their own.
      let sum = p[0] + p[n / 2];
      for (let k = 1; k < n / 2; k++) sum += 2 * p[k];
      expect(Math.abs(sum / (n * energy) - 1)).toBeLessThan(1e-6);
    }
  });

  it('matches a naive DFT on random input to 1e-6 relative in every bin', () => {
    for (const n of [2, 4, 8, 16, 128, 512, 2048]) {
      const x = noise(n, 1, 1000 + n);
      const p = spectrum(x);
      const ref = naivePower(x);
      let worst = 0;
      for (let k = 0; k <= n / 2; k++) worst = Math.max(worst, Math.abs(p[k] - ref[k]) / ref[k]);
      expect(worst, `size ${n}`).toBeLessThan(1e-6);
    }
  });

  it('gives the same answer on every call (no state carried between calls) and leaves the input alone', () => {
    const fft = new RealFft(1024);
    const x = noise(1024, 1, 7);
    const copy = x.slice();
    const a = new Float32Array(513);
    const b = new Float32Array(513);
    fft.powerSpectrum(x, a);
    fft.powerSpectrum(noise(1024, 1, 8), b);
    fft.powerSpectrum(x, b);
    expect(b).toEqual(a);
    expect(x).toEqual(copy);
  });

  it('reads only the first size samples of a longer input', () => {
    const fft = new RealFft(256);
    const x = noise(256, 1, 3);
    const longer = new Float32Array(300);
    longer.set(x);
    longer.fill(0.9, 256);
    const a = new Float32Array(129);
    const b = new Float32Array(129);
    fft.powerSpectrum(x, a);
    fft.powerSpectrum(longer, b);
    expect(b).toEqual(a);
  });

  it('rejects sizes that are not powers of two and buffers that are too short', () => {
    for (const bad of [0, 1, 3, 1000, 4096.5, NaN, 1 << 21]) expect(() => new RealFft(bad)).toThrow(RangeError);
    const fft = new RealFft(64);
    expect(() => fft.powerSpectrum(new Float32Array(63), new Float32Array(33))).toThrow(RangeError);
    expect(() => fft.powerSpectrum(new Float32Array(64), new Float32Array(32))).toThrow(RangeError);
    expect(fft.size).toBe(64);
  });
});
