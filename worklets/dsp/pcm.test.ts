import { describe, expect, it } from 'vitest';
import { float32ToInt16, int16ToFloat32 } from './pcm.ts';

describe('int16ToFloat32', () => {
  it('divides by 32768: the rails map to -1 and 32767/32768', () => {
    const src = new Int16Array([-32768, -16384, -1, 0, 1, 16384, 32767]);
    const dst = new Float32Array(src.length);
    int16ToFloat32(src, dst);
    expect(Array.from(dst)).toEqual([-1, -0.5, -1 / 32768, 0, 1 / 32768, 0.5, 32767 / 32768]);
  });

  it('converts only length samples', () => {
    const dst = new Float32Array([9, 9]);
    int16ToFloat32(new Int16Array([100, 100]), dst, 1);
    expect(dst[1]).toBe(9);
    expect(() => int16ToFloat32(new Int16Array(2), new Float32Array(1))).toThrow(RangeError);
  });
});

describe('float32ToInt16', () => {
  it('rounds to nearest and saturates at the rails', () => {
    const src = new Float32Array([-2, -1, -1.00001, 1, 1.5, 32767 / 32768, 0.5, 0.4 / 32768, 0.6 / 32768, -0.6 / 32768, 0, Number.NaN]);
    const dst = new Int16Array(src.length);
    float32ToInt16(src, dst);
    expect(Array.from(dst)).toEqual([-32768, -32768, -32768, 32767, 32767, 32767, 16384, 0, 1, -1, 0, 0]);
  });

  it('round-trips every Int16 value exactly', () => {
    const all = new Int16Array(65536).map((_, i) => i - 32768);
    const f = new Float32Array(all.length);
    const back = new Int16Array(all.length);
    int16ToFloat32(all, f);
    float32ToInt16(f, back);
    expect(back).toEqual(all);
  });

  it('converts only length samples', () => {
    const dst = new Int16Array([9, 9]);
    float32ToInt16(new Float32Array([0.5, 0.5]), dst, 1);
    expect(Array.from(dst)).toEqual([16384, 9]);
  });
});

describe('offsets', () => {
  it('converts a span from one offset to another, and refuses a span that does not fit', () => {
    const src = Float32Array.of(0, 0, 0.5, -0.5, 1.5, 0);
    const dst = new Int16Array(8).fill(7);
    float32ToInt16(src, dst, 3, 2, 4);
    expect(Array.from(dst)).toEqual([7, 7, 7, 7, 16384, -16384, 32767, 7]);
    const back = new Float32Array(4);
    int16ToFloat32(dst, back, 2, 4, 1);
    expect(Array.from(back)).toEqual([0, 0.5, -0.5, 0]);
    expect(() => float32ToInt16(src, dst, 3, 4, 0)).toThrow(RangeError);
    expect(() => int16ToFloat32(dst, back, 4, 6, 0)).toThrow(RangeError);
  });
});
