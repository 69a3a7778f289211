import { describe, expect, it } from 'vitest';
import { MeterBallistics, type MeterReading } from './ballistics.ts';

const reading = (rms: number, peak: number, clipped = 0): MeterReading => ({ rmsDbfs: rms, peakDbfs: peak, clippedSamples: clipped, momentaryLufs: rms });

describe('MeterBallistics', () => {
  it('holds a peak for the hold time, then falls at the decay rate, never below the current peak', () => {
    const m = new MeterBallistics({ holdMs: 1000, decayDbPerS: 20 });
    m.update(reading(-20, -6), 0);
    for (let t = 20; t <= 1000; t += 20) m.update(reading(-40, -30), t);
    expect(m.peakHoldDbfs).toBe(-6);
    for (let t = 1020; t <= 1500; t += 20) m.update(reading(-40, -30), t);
    // 500 ms past the hold at 20 dB/s: 10 dB down.
    expect(m.peakHoldDbfs).toBeCloseTo(-16, 5);
    for (let t = 1520; t <= 4000; t += 20) m.update(reading(-40, -30), t);
    expect(m.peakHoldDbfs).toBe(-30);
  });

  it('restarts the hold on a new, higher peak', () => {
    const m = new MeterBallistics({ holdMs: 1000 });
    m.update(reading(-20, -12), 0);
    m.update(reading(-20, -3), 900);
    m.update(reading(-40, -30), 1800);
    expect(m.peakHoldDbfs).toBe(-3);
  });

  it('latches clipping until reset, counting clipped samples', () => {
    const m = new MeterBallistics();
    m.update(reading(-3, 0, 12), 0);
    m.update(reading(-40, -30), 20);
    expect(m.clipLatched).toBe(true);
    expect(m.clippedSamples).toBe(12);
    m.resetClip();
    expect(m.clipLatched).toBe(false);
    m.update(reading(-40, -30), 40);
    expect(m.clipLatched).toBe(false);
  });

  it('keeps one history point per step with the loudest RMS, oldest first', () => {
    const m = new MeterBallistics({ historyPoints: 4, historyStepMs: 100 });
    const levels = [-10, -20, -30, -40, -50, -60];
    let t = 0;
    for (const level of levels) {
      for (let k = 0; k < 5; k++, t += 20) m.update(reading(k === 2 ? level + 3 : level, level), t);
    }
    m.update(reading(-90, -90), t);
    const out = m.historyInOrder(new Float32Array(4));
    // Six steps of 100 ms were closed; the last four remain, each with its loudest reading.
    expect(Array.from(out)).toEqual([-27, -37, -47, -57]);
  });

  it('floors readings at the meter floor', () => {
    const m = new MeterBallistics({ floorDbfs: -90 });
    m.update(reading(-120, -120), 0);
    expect(m.rmsDbfs).toBe(-90);
    expect(m.peakDbfs).toBe(-90);
  });
});
