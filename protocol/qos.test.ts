import { describe, expect, it } from 'vitest';
import { mosFromEmodel, qosLevel, qosSeverity } from './qos.ts';

const none = { latencyMs: null, lossPercent: null, jitterMs: null, mos: null };

describe('mosFromEmodel (seed 004 §8.1, worked by hand)', () => {
  it('no delay, no loss: R = 93.2 − 10 = 83.2, MOS = 1 + 2.912 + 83.2·23.2·16.8·7e-6 = 4.1390', () => {
    expect(mosFromEmodel(0, 0)).toBeCloseTo(4.138996, 5);
    // Unknown delay is no delay impairment.
    expect(mosFromEmodel(null, 0)).toBeCloseTo(4.138996, 5);
    // Below 150 ms the delay costs nothing.
    expect(mosFromEmodel(149, 0)).toBeCloseTo(4.138996, 5);
  });

  it('200 ms: Id = 0.024·200 − 3.6 = 1.2, R = 82.0, MOS = 1 + 2.87 + 82·22·18·7e-6 = 4.0973', () => {
    expect(mosFromEmodel(200, 0)).toBeCloseTo(4.097304, 5);
  });

  it('500 ms: Id = 0.12·500 − 48 = 12, R = 71.2, MOS = 1 + 2.492 + 71.2·11.2·28.8·7e-6 = 3.6528', () => {
    expect(mosFromEmodel(500, 0)).toBeCloseTo(3.652764, 5);
  });

  it('10 % loss: Ie = 10 + 30·ln 1.5 = 22.164, R = 71.036, MOS = 3.6452', () => {
    const r = 93.2 - (10 + 30 * Math.log(1.5));
    expect(r).toBeCloseTo(71.036, 3);
    expect(mosFromEmodel(null, 10)).toBeCloseTo(1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6, 9);
    expect(mosFromEmodel(null, 10)).toBeCloseTo(3.6452, 3);
  });

  it('100 % loss: Ie = 10 + 30·ln 6 = 63.75, R = 29.45, MOS = 1.5864; with 1 s of delay R < 0 and MOS = 1', () => {
    expect(mosFromEmodel(0, 100)).toBeCloseTo(1.5864, 3);
    expect(mosFromEmodel(1000, 100)).toBe(1);
  });

  it('falls as loss or delay grows', () => {
    let last = Infinity;
    for (const loss of [0, 1, 3, 5, 10, 20, 50]) {
      const m = mosFromEmodel(null, loss);
      expect(m).toBeLessThan(last);
      last = m;
    }
    expect(mosFromEmodel(300, 2)).toBeLessThan(mosFromEmodel(100, 2));
  });

  it('refuses figures that are not ones', () => {
    expect(() => mosFromEmodel(null, -1)).toThrow(RangeError);
    expect(() => mosFromEmodel(Number.NaN, 0)).toThrow(RangeError);
    expect(() => mosFromEmodel(-5, 0)).toThrow(/delayMs/);
  });
});

describe('qosLevel (seed 004 §8.1 thresholds)', () => {
  it('is GOOD when nothing is known or everything is within bounds', () => {
    expect(qosLevel(none)).toBe('GOOD');
    expect(qosLevel({ latencyMs: 150, lossPercent: 3, jitterMs: 50, mos: 3.0 })).toBe('GOOD');
  });

  it('is POOR just over a POOR threshold', () => {
    expect(qosLevel({ ...none, latencyMs: 151 })).toBe('POOR');
    expect(qosLevel({ ...none, lossPercent: 3.01 })).toBe('POOR');
    expect(qosLevel({ ...none, jitterMs: 50.5 })).toBe('POOR');
    expect(qosLevel({ ...none, mos: 2.99 })).toBe('POOR');
    // Jitter alone never makes it critical.
    expect(qosLevel({ ...none, jitterMs: 500 })).toBe('POOR');
  });

  it('is CRITICAL just over a CRITICAL threshold', () => {
    expect(qosLevel({ ...none, latencyMs: 301 })).toBe('CRITICAL');
    expect(qosLevel({ ...none, lossPercent: 5.01 })).toBe('CRITICAL');
    expect(qosLevel({ ...none, mos: 1.99 })).toBe('CRITICAL');
    expect(qosLevel({ latencyMs: null, lossPercent: 10, jitterMs: 20, mos: mosFromEmodel(null, 10) })).toBe('CRITICAL');
  });

  it('orders the levels by severity', () => {
    expect(qosSeverity('GOOD')).toBeLessThan(qosSeverity('POOR'));
    expect(qosSeverity('POOR')).toBeLessThan(qosSeverity('CRITICAL'));
  });
});
