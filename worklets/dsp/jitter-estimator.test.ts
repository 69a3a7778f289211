import { describe, expect, it } from 'vitest';
import { JitterEstimator } from './jitter-estimator.ts';

/** Feeds 20 ms packets whose transit is `transit(i)` ms. */
function feed(e: JitterEstimator, n: number, transit: (i: number) => number, from = 0): void {
  for (let i = from; i < from + n; i++) e.add(i * 20 + transit(i), i * 20);
}

describe('JitterEstimator (RFC 3550 §6.4.1, seed 004 §5.2)', () => {
  it('reads no jitter and the minimum target for packets that arrive exactly on time', () => {
    const e = new JitterEstimator();
    feed(e, 200, () => 37); // any constant transit: the clock offset cancels
    expect(e.jitterMs).toBe(0);
    expect(e.latenessMs).toBe(0);
    expect(e.targetMs).toBe(20);
  });

  it('follows J += (|D| - J) / 16 exactly', () => {
    const e = new JitterEstimator();
    const transits = [10, 14, 9, 9, 30, 12];
    let j = 0;
    transits.forEach((t, i) => {
      if (i > 0) j += (Math.abs(t - transits[i - 1]) - j) / 16;
      e.add(i * 20 + t, i * 20);
      expect(e.jitterMs).toBeCloseTo(j, 12);
    });
  });

  it('converges to |D| for transits alternating by d, and targets 2·J + 20 ms (d = 5 ms: J = 5, target 30)', () => {
    const e = new JitterEstimator();
    feed(e, 400, (i) => (i % 2 === 0 ? 0 : 5));
    expect(e.jitterMs).toBeCloseTo(5, 3);
    expect(e.targetMs).toBeCloseTo(30, 2);
  });

  it('lifts the target at once for one late packet, then lets it fall once the spike leaves the window', () => {
    const e = new JitterEstimator({ windowPackets: 100 });
    feed(e, 100, () => 0);
    e.add(100 * 20 + 90, 100 * 20); // 90 ms late
    expect(e.latenessMs).toBe(90);
    expect(e.targetMs).toBe(90);
    // Still in the window 99 packets later: the target holds.
    feed(e, 99, () => 0, 101);
    expect(e.targetMs).toBe(90);
    // Out of the window: it falls by 2 % of the gap per packet towards 2·J + 20 (J has decayed to ~0).
    feed(e, 300, () => 0, 200);
    expect(e.targetMs).toBeLessThan(21);
    expect(e.targetMs).toBeGreaterThanOrEqual(20);
  });

  it('clamps the target to [min, max]', () => {
    const e = new JitterEstimator({ minDelayMs: 20, maxDelayMs: 200 });
    feed(e, 100, (i) => (i % 2 === 0 ? 0 : 400));
    expect(e.targetMs).toBe(200);
    const f = new JitterEstimator({ minDelayMs: 60, maxDelayMs: 200 });
    feed(f, 100, () => 0);
    expect(f.targetMs).toBe(60);
  });

  it('forgets everything on reset', () => {
    const e = new JitterEstimator();
    feed(e, 50, (i) => (i % 2 === 0 ? 0 : 50));
    e.reset();
    expect(e.count).toBe(0);
    expect(e.jitterMs).toBe(0);
    expect(e.targetMs).toBe(20);
    // The first packet after a reset has no predecessor: no D, no lateness.
    e.add(1_000_000, 0);
    expect(e.jitterMs).toBe(0);
    expect(e.latenessMs).toBe(0);
  });

  it('rejects options that make no sense', () => {
    expect(() => new JitterEstimator({ minDelayMs: 300, maxDelayMs: 200 })).toThrow(RangeError);
    expect(() => new JitterEstimator({ windowPackets: 1 })).toThrow(RangeError);
    expect(() => new JitterEstimator({ decay: 0 })).toThrow(RangeError);
  });
});
