import { describe, expect, it } from 'vitest';
import { ampToDb, CLIP_THRESHOLD, DB_FLOOR, dbToAmp, powerToDb } from './constants.ts';

describe('ampToDb', () => {
  it('gives the known answers', () => {
    expect(ampToDb(1)).toBe(0);
    expect(ampToDb(0.5)).toBeCloseTo(-6.0206, 4);
    expect(ampToDb(0.1)).toBeCloseTo(-20, 12);
    expect(ampToDb(1e-5)).toBeCloseTo(-100, 10);
    expect(ampToDb(2)).toBeCloseTo(6.0206, 4);
  });

  it('ignores the sign', () => {
    expect(ampToDb(-0.5)).toBe(ampToDb(0.5));
  });

  it('floors silence, tiny values and NaN at exactly -120, never -Infinity or NaN', () => {
    expect(DB_FLOOR).toBe(-120);
    expect(ampToDb(0)).toBe(-120);
    expect(ampToDb(-0)).toBe(-120);
    expect(ampToDb(1e-6)).toBe(-120);
    expect(ampToDb(1e-300)).toBe(-120);
    expect(ampToDb(Number.NaN)).toBe(-120);
  });
});

describe('powerToDb', () => {
  it('gives the known answers', () => {
    expect(powerToDb(1)).toBe(0);
    expect(powerToDb(0.5)).toBeCloseTo(-3.0103, 4); // mean square of a full-scale sine
    expect(powerToDb(0.125)).toBeCloseTo(-9.0309, 4); // mean square of a 0.5-amplitude sine
  });

  it('floors zero, negative (rounded running sums) and NaN at exactly -120', () => {
    expect(powerToDb(0)).toBe(-120);
    expect(powerToDb(-1e-18)).toBe(-120);
    expect(powerToDb(1e-12)).toBe(-120);
    expect(powerToDb(Number.NaN)).toBe(-120);
  });
});

describe('dbToAmp', () => {
  it('inverts ampToDb', () => {
    expect(dbToAmp(0)).toBe(1);
    expect(dbToAmp(-20)).toBeCloseTo(0.1, 15);
    expect(dbToAmp(20 * Math.log10(2))).toBeCloseTo(2, 14);
    for (const db of [-119, -60, -6, 0, 3, 12, 40]) expect(ampToDb(dbToAmp(db))).toBeCloseTo(db, 10);
  });
});

describe('CLIP_THRESHOLD', () => {
  it('is the largest positive Int16 code as a float', () => {
    expect(CLIP_THRESHOLD).toBe(32767 / 32768);
    expect(Math.fround(CLIP_THRESHOLD)).toBe(CLIP_THRESHOLD); // representable in a Float32Array
  });
});
