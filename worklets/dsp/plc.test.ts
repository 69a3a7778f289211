import { describe, expect, it } from 'vitest';
import { Concealer, concealmentGain } from './plc.ts';
import { firstDifference, noise } from './test-signals.ts';

const FRAME = 960;

function concealed(c: Concealer, length = FRAME): Float32Array {
  const out = new Float32Array(length).fill(7); // garbage the concealer must overwrite
  c.conceal(out, length);
  return out;
}

describe('Concealer (seed 004 §6, simplified)', () => {
  it('gives zeros before any frame was remembered', () => {
    const c = new Concealer(FRAME);
    for (let k = 0; k < 3; k++) expect(concealed(c).every((v) => v === 0)).toBe(true);
  });

  it('repeats the last good frame at 0.9^k for the first two losses', () => {
    const c = new Concealer(FRAME);
    const good = noise(FRAME, 0.8);
    c.remember(good, FRAME);
    for (const k of [1, 2]) {
      const out = concealed(c);
      expect(firstDifference(out, good.map((v) => v * 0.9 ** k))).toBe(-1);
      expect(c.consecutiveLosses).toBe(k);
    }
  });

  it('keeps repeating with a stronger fade for losses 3 to 5, then gives zeros', () => {
    const c = new Concealer(FRAME);
    const good = noise(FRAME, 0.8);
    c.remember(good, FRAME);
    const gains: number[] = [];
    for (let k = 1; k <= 8; k++) {
      const out = concealed(c);
      gains.push(Math.abs(out[10] / good[10]));
      expect(firstDifference(out, good.map((v) => v * concealmentGain(k)))).toBe(-1); // === : 0 matches -0
    }
    expect(gains.slice(2, 5).map((g) => Number(g.toFixed(5)))).toEqual([0.405, 0.2025, 0.10125]);
    for (let k = 2; k < 5; k++) expect(gains[k] / gains[k - 1]).toBeLessThan(0.9 - 1e-6); // fades faster than 0.9 per frame
    expect(gains.slice(5)).toEqual([0, 0, 0]);
  });

  it('resets the loss count on remember', () => {
    const c = new Concealer(FRAME);
    c.remember(noise(FRAME, 0.5, 1), FRAME);
    for (let k = 0; k < 7; k++) concealed(c);
    const next = noise(FRAME, 0.5, 2);
    c.remember(next, FRAME);
    expect(c.consecutiveLosses).toBe(0);
    expect(concealed(c)[3]).toBe(Math.fround(next[3] * 0.9));
  });

  it('keeps its own copy of the remembered frame', () => {
    const c = new Concealer(FRAME);
    const frame = new Float32Array(FRAME).fill(0.5);
    c.remember(frame, FRAME);
    frame.fill(-1);
    expect(concealed(c)[0]).toBe(Math.fround(0.45));
  });

  it('repeats a shorter remembered frame to fill a longer concealment, and honours length', () => {
    const c = new Concealer(FRAME);
    c.remember(new Float32Array([1, 2, 3, 99]), 3);
    const out = concealed(c, 8);
    expect(Array.from(out)).toEqual([1, 2, 3, 1, 2, 3, 1, 2].map((v) => Math.fround(v * 0.9)));
    const partial = new Float32Array(4).fill(7);
    c.conceal(partial, 2);
    expect(partial[2]).toBe(7);
  });

  it('rejects frames longer than maxFrameSamples', () => {
    expect(() => new Concealer(4).remember(new Float32Array(5), 5)).toThrow(RangeError);
    expect(() => new Concealer(0)).toThrow(RangeError);
  });
});
