import { describe, expect, it } from 'vitest';
import { METER, METER_VALUES } from '../../../worklets/processors/meter-block.ts';
import { formatLevel, formatRelativeLu, loudnessReadout, scalePercent, scaleTicksLufs } from './loudness.ts';

describe('EBU Mode scales (EBU Tech 3341)', () => {
  it('spans -41 to -14 LUFS on the +9 scale and -59 to -5 LUFS on the +18 scale', () => {
    expect(scalePercent(-41, '+9')).toBe(0);
    expect(scalePercent(-14, '+9')).toBe(100);
    expect(scalePercent(-59, '+18')).toBe(0);
    expect(scalePercent(-5, '+18')).toBe(100);
    // The -23 LUFS target: 18 of 27 LU up the +9 scale, 36 of 54 up the +18.
    expect(scalePercent(-23, '+9')).toBeCloseTo((18 / 27) * 100, 10);
    expect(scalePercent(-23, '+18')).toBeCloseTo((36 / 54) * 100, 10);
  });

  it('clamps levels off the scale to its ends', () => {
    expect(scalePercent(-120, '+9')).toBe(0);
    expect(scalePercent(0, '+9')).toBe(100);
  });

  it('labels marks from the bottom of the scale to the top, the target among them', () => {
    expect(scaleTicksLufs('+9')).toEqual([-41, -38, -35, -32, -29, -26, -23, -20, -17, -14]);
    expect(scaleTicksLufs('+18')).toEqual([-59, -53, -47, -41, -35, -29, -23, -17, -11, -5]);
  });
});

describe('loudnessReadout', () => {
  it('reads the loudness fields of a worklet reading, "none yet" as null', () => {
    const r = new Float64Array(METER_VALUES);
    r[METER.momentaryLufs] = -22.5;
    r[METER.shortTermLufs] = -23.25;
    r[METER.integratedLufs] = Number.NaN;
    r[METER.loudnessRangeLu] = 6.5;
    r[METER.maxTruePeakDbtp] = -0.5;
    r[METER.loudnessSamples] = 96000;
    const v = loudnessReadout(r, 48000);
    expect(v).toMatchObject({ momentaryLufs: -22.5, shortTermLufs: -23.25, integratedLufs: null, loudnessRangeLu: 6.5, maxTruePeakDbtp: -0.5, integrationS: 2 });
  });
});

describe('readout text', () => {
  it('shows 0.1 LU resolution, a dash for none and -∞ for silence', () => {
    expect(formatLevel(-23.04)).toBe('-23.0');
    expect(formatLevel(null)).toBe('—');
    expect(formatLevel(-120)).toBe('-∞');
  });

  it('gives the level relative to the -23 LUFS target, signed', () => {
    expect(formatRelativeLu(-21.6)).toBe('+1.4');
    expect(formatRelativeLu(-23.3)).toBe('-0.3');
    expect(formatRelativeLu(-23.04)).toBe('+0.0');
    expect(formatRelativeLu(null)).toBe('');
  });
});
