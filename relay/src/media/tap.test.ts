/** A tap on its own: its meter measures each frame first, then its sinks see the frame and the values. */
import { describe, expect, it } from 'vitest';
import { MeterInterval, TAP_FIELDS } from './meter-interval.ts';
import type { Frame } from './stage.ts';
import { Tap } from './tap.ts';

describe('Tap', () => {
  it('meters a -6 dBFS 1 kHz sine at -9.03 dBFS RMS and hands sinks the frame with those values, unchanged', () => {
    const interval = new MeterInterval();
    const tap = new Tap(0, 48000, 1024, interval);
    const seen: { rms: number; first: number }[] = [];
    tap.attach({ consume: (f, v) => seen.push({ rms: v[0], first: f.samples[0] }) });
    const amp = 10 ** (-6 / 20);
    for (let k = 0; k < 50; k++) {
      const samples = new Float32Array(960);
      for (let i = 0; i < 960; i++) samples[i] = amp * Math.sin((2 * Math.PI * 1000 * (k * 960 + i)) / 48000);
      const frame: Frame = { samples, length: 960, bucketTs: 0, offset: k * 960, arrivalMs: 0, concealed: false };
      tap.process(frame);
      expect(frame.samples[1]).toBeCloseTo(amp * Math.sin((2 * Math.PI * 1000 * (k * 960 + 1)) / 48000), 6);
    }
    expect(seen).toHaveLength(50);
    expect(seen.at(-1)!.rms).toBeCloseTo(-9.03, 1);
    expect(tap.values[1]).toBeCloseTo(-6, 1);
    interval.publish();
    expect(interval.published[0]).toBeCloseTo(-9.03, 1);
  });
});

describe('Tap.detach', () => {
  it('takes a sink off between frames; the others keep their order', () => {
    const tap = new Tap(1, 8000, 256, new MeterInterval());
    const seen: string[] = [];
    const a = { consume: () => seen.push('a') };
    const b = { consume: () => seen.push('b') };
    const c = { consume: () => seen.push('c') };
    tap.attach(a);
    tap.attach(b);
    tap.attach(c);
    const frame: Frame = { samples: new Float32Array(160), length: 160, bucketTs: 0, offset: 0, arrivalMs: 0, concealed: false };
    tap.process(frame);
    expect(tap.detach(b)).toBe(true);
    expect(tap.detach(b)).toBe(false); // not attached any more
    tap.process(frame);
    expect(seen).toEqual(['a', 'b', 'c', 'a', 'c']);
  });
});

/** `seconds` of a 1 kHz sine of peak `peakDbfs` at 48 kHz through a tap, in 20 ms frames. */
function feed(tap: Tap, peakDbfs: number, seconds: number, from = 0): number {
  const amp = 10 ** (peakDbfs / 20);
  const samples = new Float32Array(960);
  const frames = Math.round(seconds * 50);
  for (let k = 0; k < frames; k++) {
    for (let i = 0; i < 960; i++) samples[i] = amp * Math.sin((2 * Math.PI * 1000 * (from + k * 960 + i)) / 48000);
    tap.process({ samples, length: 960, bucketTs: 0, offset: (k * 960) % 240000, arrivalMs: 0, concealed: false });
  }
  return from + frames * 960;
}

const field = (interval: MeterInterval, tap: 0 | 1, name: (typeof TAP_FIELDS)[number]): number => interval.published[tap * TAP_FIELDS.length + TAP_FIELDS.indexOf(name)];

describe('MeterInterval, fed by taps', () => {
  // EBU Tech 3341 case 1: a 1 kHz sine at -23 dBFS in both channels reads -23.0 LUFS (M, S, I),
  // ±0.1; a mono station meters one channel (G = 1.0): -23 - 3.01 = -26.0.
  it('publishes short-term and integrated loudness of a -23 dBFS sine as -26.0 LUFS, its true peak as -23 dBTP, and no range yet', () => {
    const interval = new MeterInterval();
    const tap = new Tap(1, 48000, 1024, interval);
    expect(Number.isNaN(field(interval, 1, 'integrated_lufs'))).toBe(true); // none yet: JSON null
    feed(tap, -23, 4);
    interval.publish();
    expect(Math.abs(field(interval, 1, 'short_term_lufs') - -26.01)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(field(interval, 1, 'integrated_lufs') - -26.01)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(field(interval, 1, 'momentary_lufs') - -26.01)).toBeLessThanOrEqual(0.1);
    // Tech 3341's true-peak tolerance: +0.2 / -0.4 dB.
    expect(field(interval, 1, 'true_peak_dbtp')).toBeGreaterThan(-23.4);
    expect(field(interval, 1, 'true_peak_dbtp')).toBeLessThan(-22.8);
    expect(field(interval, 1, 'range_lu')).toBe(0); // EBU Tech 3342: a steady level has no range
    // PRE saw nothing: floors, and null loudness.
    expect(field(interval, 0, 'short_term_lufs')).toBe(-120);
    expect(Number.isNaN(field(interval, 0, 'integrated_lufs'))).toBe(true);
  });

  it('keeps the largest true peak of the interval, and repeats every value over an interval without audio', () => {
    const interval = new MeterInterval();
    const tap = new Tap(0, 48000, 1024, interval);
    let at = feed(tap, -6, 0.2);
    at = feed(tap, -20, 0.2, at);
    interval.publish();
    expect(field(interval, 0, 'true_peak_dbtp')).toBeGreaterThan(-6.4);
    expect(field(interval, 0, 'true_peak_dbtp')).toBeLessThan(-5.8);
    const before = Array.from(interval.published);
    interval.publish();
    expect(Array.from(interval.published)).toEqual(before);
    feed(tap, -20, 0.2, at);
    interval.publish();
    expect(field(interval, 0, 'true_peak_dbtp')).toBeLessThan(-19.8); // a new interval starts afresh
  });
});
