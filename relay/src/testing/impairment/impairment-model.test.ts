/**
 * The impairment model against its statistics: measured loss, burst length, delay and
 * duplication over 20,000 seeded packets, each within 4 standard deviations of theory.
 */
import { describe, expect, it } from 'vitest';
import { gilbertElliottTheory, ImpairmentModel, type ImpairmentOptions } from './impairment-model.ts';

const N = 20_000;
const PERIOD_MS = 20;

interface Run {
  lost: boolean[];
  delaysMs: number[];
  copies: number[];
  deliveries: Array<{ seq: number; atMs: number }>;
}

function run(options: ImpairmentOptions, n = N): Run & { model: ImpairmentModel } {
  const model = new ImpairmentModel(options);
  const r: Run = { lost: [], delaysMs: [], copies: [], deliveries: [] };
  for (let i = 0; i < n; i++) {
    const sendMs = i * PERIOD_MS;
    const d = model.decide(sendMs);
    r.lost.push(d.copies === 0);
    r.copies.push(d.copies);
    for (let c = 0; c < d.copies; c++) {
      r.delaysMs.push(d.deliverAtMs[c] - sendMs);
      r.deliveries.push({ seq: i, atMs: d.deliverAtMs[c] });
    }
  }
  return { ...r, model };
}

const mean = (x: number[]): number => x.reduce((a, b) => a + b, 0) / x.length;
const binomialSd = (n: number, p: number): number => Math.sqrt(n * p * (1 - p));

describe('ImpairmentModel', () => {
  it('delivers everything at once with no options', () => {
    const r = run({}, 1000);
    expect(r.lost.filter(Boolean).length).toBe(0);
    expect(Math.max(...r.delaysMs)).toBe(0);
    expect(r.model.stats()).toEqual({ sent: 1000, dropped: 0, duplicated: 0, delivered: 1000, reordered: 0 });
  });

  it('independent loss lands within 4 binomial standard deviations of lossPercent', () => {
    for (const [pct, seed] of [[5, 1], [20, 7], [1, 42]] as const) {
      const r = run({ lossPercent: pct, seed });
      const p = pct / 100;
      const lost = r.lost.filter(Boolean).length;
      expect(Math.abs(lost - N * p)).toBeLessThan(4 * binomialSd(N, p));
      expect(r.model.stats().dropped).toBe(lost);
      expect(r.model.stats().delivered).toBe(N - lost);
    }
  });

  it('Gilbert-Elliott mean loss is pi_bad*h + pi_good*k, within 4 sd of the correlated-sum spread', () => {
    const ge = { pGoodToBad: 0.02, pBadToGood: 0.25, lossInBad: 0.7, lossInGood: 0.01 };
    const th = gilbertElliottTheory(ge);
    expect(th.piBad).toBeCloseTo(0.02 / 0.27, 12);
    // 200,000 packets: correlation doubles the spread over binomial; 4 sd is then 7 % of the expected losses.
    const n = 200_000;
    const r = run({ gilbertElliott: ge, seed: 3 }, n);
    const lost = r.lost.filter(Boolean).length;
    // Markov-correlated indicator: Var ≈ N[m(1-m) + 2(h-k)^2 π_b π_g λ/(1-λ)], λ = 1-p-r.
    const lambda = 1 - ge.pGoodToBad - ge.pBadToGood;
    const m = th.lossRate;
    const variance = n * (m * (1 - m) + (2 * (ge.lossInBad - ge.lossInGood) ** 2 * th.piBad * (1 - th.piBad) * lambda) / (1 - lambda));
    expect(Math.abs(lost - n * m)).toBeLessThan(4 * Math.sqrt(variance));
    // And it is measurably burstier than independent loss at the same rate: P(loss | previous lost) >> m.
    let pairs = 0;
    let both = 0;
    for (let i = 1; i < n; i++) if (r.lost[i - 1]) { pairs++; if (r.lost[i]) both++; }
    expect(both / pairs).toBeGreaterThan(3 * m);
  });

  it('Gilbert (h=1, k=0) loss runs average 1/r packets', () => {
    // 200,000 packets (about 8,600 runs) so that 4 sd of the mean run length is 4 % of it.
    const n = 200_000;
    const ge = { pGoodToBad: 0.05, pBadToGood: 0.3 };
    const th = gilbertElliottTheory(ge);
    const r = run({ gilbertElliott: ge, seed: 11 }, n);
    const runs: number[] = [];
    let len = 0;
    for (const l of r.lost) {
      if (l) len++;
      else if (len > 0) { runs.push(len); len = 0; }
    }
    // Geometric run lengths: variance (1-r)/r^2 each, so the mean of B runs has sd sqrt((1-r)/B)/r.
    const rr = ge.pBadToGood;
    const sdOfMean = Math.sqrt((1 - rr) / runs.length) / rr;
    expect(runs.length).toBeGreaterThan(8000);
    expect(Math.abs(mean(runs) - th.meanBadRunPackets)).toBeLessThan(4 * sdOfMean);
    const lostCount = r.lost.filter(Boolean).length;
    const lambda = 1 - ge.pGoodToBad - rr;
    const variance = n * (th.lossRate * (1 - th.lossRate) + (2 * th.piBad * (1 - th.piBad) * lambda) / (1 - lambda));
    expect(Math.abs(lostCount - n * th.lossRate)).toBeLessThan(4 * Math.sqrt(variance));
  });

  it('uniform jitter: delays within [base, base+jitter) and their mean within 4 sd of base+jitter/2', () => {
    const base = 30;
    const jitter = 40;
    const r = run({ baseDelayMs: base, jitterMs: jitter, allowReorder: true, seed: 5 });
    expect(Math.min(...r.delaysMs)).toBeGreaterThanOrEqual(base);
    expect(Math.max(...r.delaysMs)).toBeLessThan(base + jitter);
    const sdOfMean = jitter / Math.sqrt(12) / Math.sqrt(r.delaysMs.length);
    expect(Math.abs(mean(r.delaysMs) - (base + jitter / 2))).toBeLessThan(4 * sdOfMean);
    // Jitter (40 ms) wider than the packet spacing (20 ms) reorders: a packet is overtaken when a
    // later one draws at least 20 ms less delay.
    expect(r.model.stats().reordered).toBeGreaterThan(N / 10);
  });

  it('normal jitter: never negative, mean near jitter/2 and sd near jitter/4', () => {
    const jitter = 40;
    const r = run({ jitterMs: jitter, jitterDistribution: 'normal', allowReorder: true, seed: 9 });
    expect(Math.min(...r.delaysMs)).toBeGreaterThanOrEqual(0);
    const m = mean(r.delaysMs);
    const sd = Math.sqrt(mean(r.delaysMs.map((d) => (d - m) ** 2)));
    // Clipping z at -2: E[max(Z,-2)] = φ(2) - 2Φ(-2) = 0.00849, sd of max(Z,-2) = 0.9799.
    const sigma = jitter / 4;
    const n = r.delaysMs.length;
    expect(Math.abs(m - (jitter / 2 + 0.00849 * sigma))).toBeLessThan((4 * sigma) / Math.sqrt(n));
    // The sample sd of n near-normal draws has an sd of about σ/√(2n).
    expect(Math.abs(sd - 0.9799 * sigma)).toBeLessThan((4 * sigma) / Math.sqrt(2 * n));
  });

  it('keeps order with jitter when allowReorder is false', () => {
    const r = run({ jitterMs: 100, lossPercent: 5, duplicatePercent: 5, seed: 2 });
    for (let i = 1; i < r.deliveries.length; i++) expect(r.deliveries[i].atMs).toBeGreaterThanOrEqual(r.deliveries[i - 1].atMs);
    expect(r.model.stats().reordered).toBe(0);
    // Order costs delay: each packet waits for the slowest before it.
    expect(mean(r.delaysMs)).toBeGreaterThan(50);
  });

  it('the same seed gives identical decisions, another seed different ones', () => {
    const o: ImpairmentOptions = { lossPercent: 10, jitterMs: 25, duplicatePercent: 3, gilbertElliott: { pGoodToBad: 0.05, pBadToGood: 0.5 }, allowReorder: true };
    const a = run({ ...o, seed: 123 }, 2000);
    const b = run({ ...o, seed: 123 }, 2000);
    const c = run({ ...o, seed: 124 }, 2000);
    expect(b.deliveries).toEqual(a.deliveries);
    expect(b.model.stats()).toEqual(a.model.stats());
    expect(c.deliveries).not.toEqual(a.deliveries);
  });

  it('duplicates at duplicatePercent of delivered packets', () => {
    const pct = 4;
    const r = run({ duplicatePercent: pct, lossPercent: 10, seed: 17 });
    const s = r.model.stats();
    const deliveredPackets = N - s.dropped;
    const p = pct / 100;
    expect(Math.abs(s.duplicated - deliveredPackets * p)).toBeLessThan(4 * binomialSd(deliveredPackets, p));
    expect(s.delivered).toBe(deliveredPackets + s.duplicated);
    expect(r.copies.filter((c) => c === 2).length).toBe(s.duplicated);
  });

  it('setOptions changes the impairment and keeps the counters', () => {
    const model = new ImpairmentModel({ lossPercent: 100 });
    for (let i = 0; i < 100; i++) expect(model.decide(i).copies).toBe(0);
    model.setOptions({ jitterMs: 10 });
    let lastAt = -Infinity;
    for (let i = 100; i < 200; i++) {
      const d = model.decide(i);
      expect(d.copies).toBe(1);
      expect(d.deliverAtMs[0]).toBeGreaterThanOrEqual(Math.max(i, lastAt));
      lastAt = d.deliverAtMs[0];
    }
    expect(model.stats()).toMatchObject({ sent: 200, dropped: 100, delivered: 100 });
  });

  it('rejects out-of-range options', () => {
    expect(() => new ImpairmentModel({ lossPercent: 101 })).toThrow(RangeError);
    expect(() => new ImpairmentModel({ jitterMs: -1 })).toThrow(RangeError);
    expect(() => new ImpairmentModel({ gilbertElliott: { pGoodToBad: 2, pBadToGood: 0.1 } })).toThrow(RangeError);
    expect(() => new ImpairmentModel({ jitterDistribution: 'pareto' as 'normal' })).toThrow(TypeError);
  });
});
