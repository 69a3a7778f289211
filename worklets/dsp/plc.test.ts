import { describe, expect, it } from 'vitest';
import { concealmentGain, FADE_LIMIT, REPEAT_LIMIT } from './plc.ts';

describe('concealmentGain (seed 004 §6, simplified)', () => {
  it('is 0.9^k for the first two losses', () => {
    expect(REPEAT_LIMIT).toBe(2);
    expect([concealmentGain(1), concealmentGain(2)]).toEqual([0.9, 0.9 ** 2]);
  });

  it('fades by -6 dB a frame for losses 3 to 5, then is silent', () => {
    expect(FADE_LIMIT).toBe(5);
    const gains = Array.from({ length: 8 }, (_, k) => concealmentGain(k + 1));
    expect(gains.slice(2, 5).map((g) => Number(g.toFixed(5)))).toEqual([0.405, 0.2025, 0.10125]);
    for (let k = 2; k < 5; k++) expect(gains[k] / gains[k - 1]).toBeLessThan(0.9 - 1e-6);
    expect(gains.slice(5)).toEqual([0, 0, 0]);
  });
});
