import { describe, expect, it } from 'vitest';
import { exp2Fast, log2Fast } from './fastmath.ts';
import { noise } from './test-signals.ts';

describe('log2Fast', () => {
  it('is exact at powers of two', () => {
    for (let k = -30; k <= 20; k++) expect(log2Fast(2 ** k)).toBe(k);
  });

  it('is within 3e-6 of log2 (2e-5 dB) over the float32 sample range', () => {
    let worst = 0;
    const u = noise(100000, 1, 42);
    for (let i = 0; i < u.length; i++) {
      const x = Math.fround(10 ** (8 * Math.abs(u[i]) - 6)); // 1e-6 .. 100, log-uniform
      worst = Math.max(worst, Math.abs(log2Fast(x) - Math.log2(x)));
    }
    expect(worst).toBeLessThan(3e-6);
    expect(worst).toBeGreaterThan(1e-7); // it is an approximation: the test would notice an exact one
  });
});

describe('exp2Fast', () => {
  it('is exact at integers', () => {
    for (let n = -100; n <= 100; n++) expect(exp2Fast(n)).toBe(2 ** n);
  });

  it('is within 1e-6 relative of 2^p (1e-5 dB) and monotonic', () => {
    let worst = 0;
    let previous = 0;
    let decreases = 0;
    for (let p = -60; p <= 10; p += 0.000731) {
      const y = exp2Fast(p);
      worst = Math.max(worst, Math.abs(y / 2 ** p - 1));
      if (y < previous) decreases++;
      previous = y;
    }
    expect(worst).toBeLessThan(1e-6);
    expect(decreases).toBe(0);
  });

  it('saturates instead of returning NaN or Infinity', () => {
    expect(exp2Fast(-1e9)).toBe(2 ** -149);
    expect(exp2Fast(Number.NEGATIVE_INFINITY)).toBe(2 ** -149);
    expect(exp2Fast(Number.NaN)).toBe(2 ** -149);
    expect(exp2Fast(1e9)).toBe(2 ** 129);
  });
});
