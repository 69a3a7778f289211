import { describe, expect, it } from 'vitest';
import { burstRatio, delayImpairment, effectiveEquipmentImpairment, emodel, mosFromEmodel, mosFromR, qosLevel, qosSeverity } from './qos.ts';

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

describe('G.107 E-model (simplified: delay, codec, loss and its burstiness), worked by hand', () => {
  it('G.711 with no delay or loss: R = 93.2, MOS = 1 + 3.262 + 93.2·33.2·6.8·7e-6 = 4.4093', () => {
    const { r, mos } = emodel({ codec: 'pcmu', delayMs: null, lossPercent: 0, burstR: 1 });
    expect(r).toBeCloseTo(93.2, 6);
    expect(mos).toBeCloseTo(4.4093, 4);
  });

  it('2 % random loss: Ie,eff = 95·2/(2/1 + 25.1) = 7.0111, R = 86.1889, MOS 4.2348', () => {
    expect(effectiveEquipmentImpairment(0, 25.1, 2, 1)).toBeCloseTo(7.0111, 4);
    const { r, mos } = emodel({ codec: 'pcma', delayMs: 0, lossPercent: 2, burstR: 1 });
    expect(r).toBeCloseTo(86.1889, 4);
    expect(mos).toBeCloseTo(4.2348, 4);
  });

  it('5 % loss in bursts (BurstR 2): Ie,eff = 95·5/(5/2 + 25.1) = 17.2101, R = 75.9899, MOS 3.8639', () => {
    const { r, mos } = emodel({ codec: 'opus', delayMs: null, lossPercent: 5, burstR: 2 });
    expect(r).toBeCloseTo(75.9899, 4);
    expect(mos).toBeCloseTo(3.8639, 4);
  });

  it('delay: Idd is 0 up to 100 ms; at 200 ms X = 1, Idd = 25·(2^⅙ − 3·(1 + 3⁻⁶)^⅙ + 2) = 3.0444; at 400 ms 24.0701', () => {
    expect(delayImpairment(100)).toBe(0);
    expect(delayImpairment(200)).toBeCloseTo(3.0444, 4);
    expect(delayImpairment(400)).toBeCloseTo(24.0701, 4);
    // 400 ms and 1 % loss with BurstR 1.5: Ie,eff = 95/(1/1.5 + 25.1) = 3.6869, R = 65.4430, MOS 3.3767.
    const { r, mos } = emodel({ codec: 'g722', delayMs: 400, lossPercent: 1, burstR: 1.5 });
    expect(r).toBeCloseTo(65.443, 3);
    expect(mos).toBeCloseTo(3.3767, 4);
    expect(() => delayImpairment(-1)).toThrow(RangeError);
  });

  it('MOS from R: 1 at or below 0, 4.5 at or above 100', () => {
    expect(mosFromR(-5)).toBe(1);
    expect(mosFromR(0)).toBe(1);
    expect(mosFromR(100)).toBe(4.5);
    expect(mosFromR(50)).toBeCloseTo(1 + 1.75 + 50 * -10 * 50 * 7e-6, 9);
  });

  it('BurstR from loss runs: random loss is 1, one long run is bursty, no loss is 1', () => {
    // 1000 packets, 100 lost one at a time (100 runs): p = 100/900, q = 100/100, BurstR = 1/(1/9 + 1) = 0.9.
    expect(burstRatio(900, 100, 100)).toBeCloseTo(0.9, 9);
    // 900 received, 100 lost in 10 runs of 10: p = 10/900, q = 10/100: BurstR = 1/(0.0111 + 0.1) = 9.
    expect(burstRatio(900, 100, 10)).toBeCloseTo(9, 9);
    expect(burstRatio(1000, 0, 0)).toBe(1);
    expect(() => effectiveEquipmentImpairment(0, 25.1, 101, 1)).toThrow(RangeError);
    expect(() => effectiveEquipmentImpairment(0, 25.1, 1, 0)).toThrow(RangeError);
  });
});
