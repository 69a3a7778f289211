import { describe, expect, it } from 'vitest';
import { hzTicks, PeakHold, peakBandHz, xOfHz, yOfDb } from './spectrum-plot';

describe('spectrum plot', () => {
  it('puts octaves evenly on the frequency axis and levels on the dB axis', () => {
    expect(xOfHz(20, 20, 20_480, 1000)).toBe(0);
    expect(xOfHz(20_480, 20, 20_480, 1000)).toBeCloseTo(1000, 9);
    // 10 octaves over 1000 px: 100 px each.
    expect(xOfHz(40, 20, 20_480, 1000)).toBeCloseTo(100, 9);
    expect(xOfHz(640, 20, 20_480, 1000)).toBeCloseTo(500, 9);
    expect(yOfDb(0, 200)).toBe(0);
    expect(yOfDb(-50, 200)).toBe(100);
    expect(yOfDb(-140, 200)).toBe(200);
    expect(yOfDb(6, 200)).toBe(0);
  });

  it('labels ticks within the range', () => {
    expect(hzTicks(20, 4000).map((t) => t.label)).toEqual(['20', '50', '100', '200', '500', '1k', '2k']);
  });

  it('finds the loudest band', () => {
    expect(peakBandHz([100, 200, 400], [-60, -20, -30])).toBe(200);
    expect(peakBandHz([], [])).toBeNull();
  });

  it('holds peaks and lets them fall at 12 dB/s', () => {
    const h = new PeakHold();
    h.update([-20, -40], 0);
    h.update([-60, -30], 500);
    expect(Array.from(h.db)).toEqual([-26, -30]);
    h.update([-60, -60], 1500);
    expect(Array.from(h.db)).toEqual([-38, -42]);
  });
});
