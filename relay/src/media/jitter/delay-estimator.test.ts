/**
 * The target delay estimator on known inputs: a clock offset and a constant network delay
 * cancel out, a uniform spread reads its 95th percentile, the bounds of seed 004 §5 hold,
 * and the forgetting sets how fast the target comes back down.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../audio/signals.ts';
import { DelayEstimator, FORGET_TAU_MS, MAX_TARGET_MS, MIN_TARGET_MS } from './delay-estimator.ts';

describe('DelayEstimator', () => {
  it('cancels a clock offset and a constant delay: the target stays at the floor', () => {
    const e = new DelayEstimator();
    // The sender's clock is 3 days off ours, the network takes 87 ms.
    const offsetMs = 3 * 86_400_000 + 87;
    for (let n = 0; n < 1000; n++) e.observe(offsetMs + n * 20, n * 20, 20);
    expect(e.relativeDelayMs).toBe(0);
    expect(e.targetMs).toBe(MIN_TARGET_MS);
  });

  it('reads the 95th percentile of a uniform 0-40 ms spread', () => {
    const e = new DelayEstimator();
    const rand = mulberry32(7);
    // Long enough (6 τ) that the "no jitter" prior has faded to 0.25 %.
    const packets = Math.ceil((6 * FORGET_TAU_MS) / 20);
    for (let n = 0; n < packets; n++) e.observe(n * 20 + 40 * rand(), n * 20, 20);
    console.log(`uniform 0-40 ms: q95 ${e.quantile(0.95).toFixed(2)} ms, target ${e.targetMs.toFixed(2)} ms`);
    expect(e.targetMs).toBeGreaterThan(35);
    expect(e.targetMs).toBeLessThan(41);
  });

  it('clamps the target to 200 ms', () => {
    const e = new DelayEstimator();
    const rand = mulberry32(3);
    for (let n = 0; n < 3000; n++) e.observe(n * 20 + 1000 * rand(), n * 20, 20);
    expect(e.quantile(0.95)).toBeGreaterThan(MAX_TARGET_MS);
    expect(e.targetMs).toBe(MAX_TARGET_MS);
  });

  it('brings the target down as the old delays are forgotten', () => {
    const e = new DelayEstimator();
    // Every packet 60 ms late but one in ten on time: the quantile sits near 60 ms.
    for (let n = 0; n < 2000; n++) e.observe(n * 20 + (n % 10 === 0 ? 0 : 60), n * 20, 20);
    const high = e.targetMs;
    let downAtMs = -1;
    for (let n = 2000; n < 5000 && downAtMs < 0; n++) {
      e.observe(n * 20, n * 20, 20);
      if (e.targetMs <= 25) downAtMs = (n - 2000) * 20;
    }
    console.log(`target ${high.toFixed(1)} ms, down to <= 25 ms after ${downAtMs} ms without jitter`);
    expect(high).toBeGreaterThan(55);
    // The tail (0.9 of the weight) must fall under 5 %: τ·ln(0.9/0.05) ≈ 23 s.
    expect(downAtMs).toBeGreaterThan(20_000);
    expect(downAtMs).toBeLessThan(26_000);
  });
});
