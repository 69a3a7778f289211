import { describe, expect, it } from 'vitest';
import { FrameMeter } from './meters.ts';
import { MeterWindow } from './meter-window.ts';
import { db, inBlocks, noise, peak, rms, sine } from './test-signals.ts';

/** Runs buf through a FrameMeter in blocks, adding each block to a new window, and ends the window. */
function measure(sampleRate: number, buf: Float32Array, block: number): { window: MeterWindow; meter: FrameMeter } {
  const meter = new FrameMeter(sampleRate);
  const window = new MeterWindow();
  inBlocks(buf, block, (b, n) => {
    meter.process(b, n);
    window.add(n, meter.rmsDbfs, meter.peakDbfs, meter.clippingRatio, meter.momentaryLufs, meter.shortTermLufs, meter.truePeakDbtp);
  });
  window.endWindow();
  return { window, meter };
}

describe('MeterWindow', () => {
  it('reads a -6 dBFS (0.5 peak) sine as -9.03 dBFS RMS, -6.02 dBFS peak, nothing clipped', () => {
    const { window, meter } = measure(48000, sine(48000, 1000, 0.5, 960), 128); // 7.5 render quanta
    expect(window.rmsDbfs).toBeCloseTo(-9.0309, 3);
    expect(window.peakDbfs).toBeCloseTo(-6.0206, 4);
    expect(window.clippingRatio).toBe(0);
    expect(window.clippedSamples).toBe(0);
    expect(window.samples).toBe(960);
    expect(window.momentaryLufs).toBe(meter.momentaryLufs);
    expect(window.shortTermLufs).toBe(meter.shortTermLufs);
  });

  it('weighs blocks by their length: half full-scale square, half silence is -3.01 dBFS RMS, half clipped', () => {
    const x = new Float32Array(1000);
    for (let i = 0; i < 500; i++) x[i] = i % 2 === 0 ? 1 : -1;
    for (const block of [1, 7, 128, 333, 1000]) {
      const { window } = measure(48000, x, block);
      expect(window.rmsDbfs, `block ${block}`).toBeCloseTo(-3.0103, 4);
      expect(window.peakDbfs, `block ${block}`).toBe(0);
      expect(window.clippingRatio, `block ${block}`).toBe(0.5);
      expect(window.clippedSamples, `block ${block}`).toBe(500);
    }
  });

  it('keeps the largest block true peak and the latest short-term loudness, in whatever order the blocks come', () => {
    const w = new MeterWindow();
    for (const [tp, st] of [[-12, -30], [-3.2, -28], [-7, -26.5], [-120, -27]]) w.add(128, -20, -20, 0, -25, st, tp);
    w.endWindow();
    expect([w.truePeakDbtp, w.shortTermLufs]).toEqual([-3.2, -27]);
  });

  it('reads the true peak of a 1 kHz sine of peak 0.5 sampled off its crest as -6.02 dBTP, above its sample peak', () => {
    // 1 kHz at 44.1 kHz: 44.1 samples a period, so the crests fall between samples. Tech 3341's
    // true-peak cases allow +0.2 / -0.4 dB.
    const rate = 44100;
    const x = new Float32Array(4410);
    for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rate + 0.3);
    const { window } = measure(rate, x, 441);
    expect(window.truePeakDbtp).toBeGreaterThan(-6.0206 - 0.4);
    expect(window.truePeakDbtp).toBeLessThan(-6.0206 + 0.2);
    expect(window.truePeakDbtp).toBeGreaterThanOrEqual(window.peakDbfs);
  });

  it('agrees with the RMS and peak of the whole window whatever the block sizes', () => {
    const x = noise(4801, 0.3, 7);
    const want = db(rms(x));
    for (const block of [1, 13, 127, 480, 4801]) {
      const { window } = measure(48000, x, block);
      expect(window.rmsDbfs, `block ${block}`).toBeCloseTo(want, 9);
      expect(window.peakDbfs, `block ${block}`).toBeCloseTo(db(peak(x)), 9);
      expect(window.samples).toBe(4801);
    }
  });

  it('reads silence as exactly -120, with no NaN', () => {
    const { window } = measure(48000, new Float32Array(960), 128);
    expect([window.rmsDbfs, window.peakDbfs, window.momentaryLufs, window.clippingRatio]).toEqual([-120, -120, -120, 0]);
    expect([window.shortTermLufs, window.truePeakDbtp]).toEqual([-120, -120]);
  });

  it('reads an empty first window at the floors, and an empty later window as the previous one', () => {
    const w = new MeterWindow();
    expect(w.endWindow()).toBe(0);
    expect([w.rmsDbfs, w.peakDbfs, w.clippingRatio, w.clippedSamples, w.momentaryLufs, w.shortTermLufs, w.truePeakDbtp, w.samples]).toEqual([-120, -120, 0, 0, -120, -120, -120, 0]);

    w.add(480, -9, -6, 0.25, -12, -14, -5.5);
    expect(w.pendingSamples).toBe(480);
    expect(w.endWindow()).toBe(480);
    expect(w.pendingSamples).toBe(0);
    const held = [w.rmsDbfs, w.peakDbfs, w.clippingRatio, w.clippedSamples, w.momentaryLufs, w.shortTermLufs, w.truePeakDbtp];
    expect(held[0]).toBeCloseTo(-9, 12);
    expect(held[1]).toBeCloseTo(-6, 12);
    expect(held.slice(2)).toEqual([0.25, 120, -12, -14, -5.5]);

    w.add(0, -40, -30, 0, -50, -50, -30); // an empty block counts no samples
    expect(w.endWindow()).toBe(0);
    expect([w.rmsDbfs, w.peakDbfs, w.clippingRatio, w.clippedSamples, w.momentaryLufs, w.shortTermLufs, w.truePeakDbtp]).toEqual(held);
    expect(w.samples).toBe(0);
  });

  it('starts each window afresh: a loud window does not leak into the next', () => {
    const w = new MeterWindow();
    w.add(128, 0, 0, 1, -3, -4, 1.5);
    w.endWindow();
    w.add(128, -60, -50, 0, -20, -22, -49.5);
    w.endWindow();
    expect(w.rmsDbfs).toBeCloseTo(-60, 12);
    expect(w.peakDbfs).toBeCloseTo(-50, 12);
    expect([w.clippingRatio, w.clippedSamples, w.momentaryLufs, w.shortTermLufs, w.truePeakDbtp]).toEqual([0, 0, -20, -22, -49.5]);
  });

  it('resets to a new window, and refuses a negative length', () => {
    const w = new MeterWindow();
    w.add(128, 0, 0, 1, -3, -3, 0.5);
    w.endWindow();
    w.add(64, 0, 0, 1, -3, -3, 0.5);
    w.reset();
    expect(w.pendingSamples).toBe(0);
    expect([w.rmsDbfs, w.peakDbfs, w.clippingRatio, w.clippedSamples, w.momentaryLufs, w.shortTermLufs, w.truePeakDbtp, w.samples]).toEqual([-120, -120, 0, 0, -120, -120, -120, 0]);
    w.add(64, -30, -30, 0, -30, -30, -29);
    w.endWindow();
    expect(w.truePeakDbtp).toBe(-29); // no true peak from before the reset
    expect(() => w.add(-1, 0, 0, 0, 0, 0, 0)).toThrow(RangeError);
  });
});
