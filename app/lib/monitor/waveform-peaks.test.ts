import { describe, expect, it } from 'vitest';
import { minMaxColumns } from './waveform-peaks.ts';

describe('minMaxColumns', () => {
  it('keeps every column\'s extremes, a one-sample spike included', () => {
    const x = new Float32Array(1000);
    x[437] = 0.9;
    x[812] = -0.7;
    const out = minMaxColumns(x, 10);
    expect(out.length).toBe(20);
    // Samples 400-499 are column 4, 800-899 column 8.
    expect(out[9]).toBeCloseTo(0.9, 6);
    expect(out[16]).toBeCloseTo(-0.7, 6);
    for (let c = 0; c < 10; c++) if (c !== 4 && c !== 8) expect([out[2 * c], out[2 * c + 1]]).toEqual([0, 0]);
  });

  it('spans a sine\'s peaks in every column wider than a cycle', () => {
    const a = 10 ** (-6 / 20);
    const x = Float32Array.from({ length: 48000 }, (_, i) => a * Math.sin((2 * Math.PI * 1000 * i) / 48000));
    const out = minMaxColumns(x, 300);
    for (let c = 0; c < 300; c++) {
      expect(out[2 * c]).toBeCloseTo(-a, 3);
      expect(out[2 * c + 1]).toBeCloseTo(a, 3);
    }
  });

  it('repeats samples when there are more columns than samples, and draws nothing for none', () => {
    expect([...minMaxColumns(Float32Array.of(0.5, -0.5), 4)]).toEqual([0.5, 0.5, 0.5, 0.5, -0.5, -0.5, -0.5, -0.5]);
    expect([...minMaxColumns(new Float32Array(0), 2)]).toEqual([0, 0, 0, 0]);
  });

  it('refuses a column count that is not a positive integer, or too small an output', () => {
    expect(() => minMaxColumns(new Float32Array(4), 0)).toThrow(TypeError);
    expect(() => minMaxColumns(new Float32Array(4), 2, new Float32Array(3))).toThrow(TypeError);
  });
});
