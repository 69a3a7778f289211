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
    window.add(n, meter.rmsDbfs, meter.peakDbfs, meter.clippingRatio, meter.momentaryLufs);
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
  });

  it('reads an empty first window at the floors, and an empty later window as the previous one', () => {
    const w = new MeterWindow();
    expect(w.endWindow()).toBe(0);
    expect([w.rmsDbfs, w.peakDbfs, w.clippingRatio, w.clippedSamples, w.momentaryLufs, w.samples]).toEqual([-120, -120, 0, 0, -120, 0]);

    w.add(480, -9, -6, 0.25, -12);
    expect(w.pendingSamples).toBe(480);
    expect(w.endWindow()).toBe(480);
    expect(w.pendingSamples).toBe(0);
    const held = [w.rmsDbfs, w.peakDbfs, w.clippingRatio, w.clippedSamples, w.momentaryLufs];
    expect(held[0]).toBeCloseTo(-9, 12);
    expect(held[1]).toBeCloseTo(-6, 12);
    expect(held.slice(2)).toEqual([0.25, 120, -12]);

    w.add(0, -40, -30, 0, -50); // an empty block counts no samples
    expect(w.endWindow()).toBe(0);
    expect([w.rmsDbfs, w.peakDbfs, w.clippingRatio, w.clippedSamples, w.momentaryLufs]).toEqual(held);
    expect(w.samples).toBe(0);
  });

  it('starts each window afresh: a loud window does not leak into the next', () => {
    const w = new MeterWindow();
    w.add(128, 0, 0, 1, -3);
    w.endWindow();
    w.add(128, -60, -50, 0, -20);
    w.endWindow();
    expect(w.rmsDbfs).toBeCloseTo(-60, 12);
    expect(w.peakDbfs).toBeCloseTo(-50, 12);
    expect([w.clippingRatio, w.clippedSamples, w.momentaryLufs]).toEqual([0, 0, -20]);
  });

  it('resets to a new window, and refuses a negative length', () => {
    const w = new MeterWindow();
    w.add(128, 0, 0, 1, -3);
    w.endWindow();
    w.add(64, 0, 0, 1, -3);
    w.reset();
    expect(w.pendingSamples).toBe(0);
    expect([w.rmsDbfs, w.peakDbfs, w.clippingRatio, w.clippedSamples, w.momentaryLufs, w.samples]).toEqual([-120, -120, 0, 0, -120, 0]);
    expect(() => w.add(-1, 0, 0, 0, 0)).toThrow(RangeError);
  });
});
