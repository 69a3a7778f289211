/** A tap on its own: its meter measures each frame first, then its sinks see the frame and the values. */
import { describe, expect, it } from 'vitest';
import { MeterInterval } from './meter-interval.ts';
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
