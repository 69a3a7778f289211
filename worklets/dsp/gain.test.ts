import { describe, expect, it } from 'vitest';
import { dbToAmp } from './constants.ts';
import { Gain } from './gain.ts';
import { firstDifference, noise } from './test-signals.ts';

describe('Gain', () => {
  it('doubles every sample exactly at +6.02 dB (20·log10 2)', () => {
    const g = new Gain();
    g.setDb(20 * Math.log10(2));
    const input = noise(960, 0.4);
    const buf = input.slice();
    g.process(buf, buf.length);
    expect(firstDifference(buf, input.map((v) => 2 * v))).toBe(-1);
  });

  it('applies +6 dB as 1.9953 (10^(6/20)), from the first sample, with no ramp', () => {
    const g = new Gain(6);
    const buf = new Float32Array(4).fill(0.25);
    g.process(buf, 4);
    expect(Array.from(buf)).toEqual(new Array(4).fill(Math.fround(0.25 * dbToAmp(6))));
    expect(buf[0]).toBeCloseTo(0.498816, 6);
  });

  it('switches exactly at a block boundary', () => {
    const g = new Gain(-6);
    const a = new Float32Array(3).fill(0.5);
    g.process(a, 3);
    g.setDb(-20);
    const b = new Float32Array(3).fill(0.5);
    g.process(b, 3);
    expect(a[2]).toBe(Math.fround(0.5 * dbToAmp(-6)));
    expect(b[0]).toBe(Math.fround(0.05));
  });

  it('is bit-transparent at 0 dB', () => {
    const input = noise(960, 1);
    const buf = input.slice();
    new Gain(0).process(buf, buf.length);
    expect(firstDifference(buf, input)).toBe(-1);
  });

  it('processes only length samples and rejects non-finite gains', () => {
    const buf = new Float32Array([1, 1]);
    new Gain(-20).process(buf, 1);
    expect(buf[1]).toBe(1);
    expect(() => new Gain().setDb(Number.NaN)).toThrow(RangeError);
  });
});
