import { describe, expect, it } from 'vitest';
import { Resampler } from './resampler.ts';
import { noise, sine } from './test-signals.ts';

/** Amplitude (dB re 1.0 peak) of the hz component of x[from, to), by correlation. */
function toneDb(x: Float32Array, hz: number, rate: number, from: number, to: number): number {
  let re = 0;
  let im = 0;
  const w = (2 * Math.PI * hz) / rate;
  for (let i = from; i < to; i++) {
    re += x[i] * Math.cos(w * i);
    im += x[i] * Math.sin(w * i);
  }
  return 20 * Math.log10((2 / (to - from)) * Math.hypot(re, im));
}

/** x converted in blocks of `block` (the last one may be short): the output and each block's output count. */
function convert(r: Resampler, x: Float32Array, block: number): { y: Float32Array; counts: number[] } {
  const y = new Float32Array(Math.ceil((x.length * r.up) / r.down) + 8);
  const out = new Float32Array(Math.ceil((block * r.up) / r.down) + 2);
  const counts: number[] = [];
  let n = 0;
  for (let i = 0; i < x.length; i += block) {
    const len = Math.min(block, x.length - i);
    const expected = r.outputsFor(len);
    const k = r.process(x.subarray(i, i + len), len, out);
    expect(k).toBe(expected);
    y.set(out.subarray(0, k), n);
    n += k;
    counts.push(k);
  }
  return { y: y.subarray(0, n), counts };
}

/** Gain in dB of a sine at hz through from -> to (0.2 s settle excluded). */
function gainDb(from: number, to: number, hz: number): number {
  const r = new Resampler(from, to, from / 50);
  const { y } = convert(r, sine(from, hz, 0.5, from), from / 50);
  return toneDb(y, hz, to, Math.round(to * 0.2), Math.round(to * 0.9)) - 20 * Math.log10(0.5);
}

describe('Resampler (polyphase windowed sinc)', () => {
  for (const from of [44100, 32000, 22050, 8050]) {
    it(`${from} -> 48000 Hz: exactly 960 samples per 20 ms block, a 1 kHz sine at its level and in time`, () => {
      const block = from / 50;
      const r = new Resampler(from, 48000, block);
      const x = sine(from, 1000, 0.5, from);
      const { y, counts } = convert(r, x, block);
      expect(new Set(counts)).toEqual(new Set([960]));
      // Against the ideal: the same sine at 48 kHz, `delaySamples` input samples later.
      const delayS = r.delaySamples / from;
      let err = 0;
      for (let j = 4800; j < y.length; j++) err = Math.max(err, Math.abs(y[j] - 0.5 * Math.sin(2 * Math.PI * 1000 * (j / 48000 - delayS))));
      expect(err).toBeLessThan(0.5 * 1e-3); // better than -60 dB of the signal: level, phase and delay all right
    });
  }

  it('passes 0.40 of the input rate flat (within 0.02 dB) and is 6 dB down at 0.45', () => {
    for (const frac of [0.005, 0.1, 0.25, 0.35, 0.4]) expect(Math.abs(gainDb(44100, 48000, Math.round(frac * 44100)))).toBeLessThan(0.02);
    expect(gainDb(44100, 48000, Math.round(0.448 * 44100))).toBeGreaterThan(-7);
    expect(gainDb(44100, 48000, Math.round(0.448 * 44100))).toBeLessThan(-5);
  });

  it('up-converting, leaves the images of the input spectrum more than 80 dB down', () => {
    // A 17.64 kHz tone at 44.1 kHz has its first image at 26.46 kHz (above the new Nyquist
    // frequency: aliased to 21.54 kHz at 48 kHz); at 22.05 kHz, 8.82 kHz -> 13.23 kHz.
    for (const [from, hz] of [[44100, 17640], [22050, 8820], [32000, 6400]]) {
      const r = new Resampler(from, 48000, from / 50);
      const { y } = convert(r, sine(from, hz, 0.5, from), from / 50);
      const image = from - hz;
      const heard = image > 24000 ? 48000 - image : image;
      const level = toneDb(y, heard, 48000, 9600, 43200) - toneDb(y, hz, 48000, 9600, 43200);
      expect(level, `${from} Hz, ${hz} Hz tone`).toBeLessThan(-80);
    }
  });

  it('down-converting, keeps what is above the new Nyquist frequency from aliasing (more than 80 dB down)', () => {
    // 48 -> 16 kHz: a 9.6 kHz tone would alias to 6.4 kHz.
    const r = new Resampler(48000, 16000, 960);
    const { y, counts } = convert(r, sine(48000, 9600, 0.5, 48000), 960);
    expect(new Set(counts)).toEqual(new Set([320]));
    expect(toneDb(y, 6400, 16000, 3200, 14400)).toBeLessThan(-80 + 20 * Math.log10(0.5));
    expect(gainDb(48000, 16000, 3000)).toBeCloseTo(0, 2);
  });

  it('gives the same samples whatever the block sizes (odd ones too)', () => {
    const x = noise(44100, 0.5, 7);
    const whole = convert(new Resampler(44100, 48000, 44100), x, 44100).y;
    const odd = convert(new Resampler(44100, 48000, 997), x, 997).y;
    const tiny = convert(new Resampler(44100, 48000, 3), x, 3).y;
    expect(odd.length).toBe(whole.length);
    expect(tiny.length).toBe(whole.length);
    expect(Array.from(odd)).toEqual(Array.from(whole));
    expect(Array.from(tiny)).toEqual(Array.from(whole));
    // 44100 samples give 48000 outputs in all, less what the delay still holds back.
    expect(Math.abs(whole.length - 48000)).toBeLessThanOrEqual(1);
  });

  it('starts over after reset(), and passes DC at exactly unity gain', () => {
    const r = new Resampler(22050, 48000, 441);
    const dc = new Float32Array(441).fill(0.25);
    const out = new Float32Array(r.outputsFor(441));
    for (let i = 0; i < 5; i++) r.process(dc, 441, out);
    for (let j = 0; j < out.length; j++) expect(out[j]).toBeCloseTo(0.25, 6);
    r.reset();
    const first = new Float32Array(r.outputsFor(441));
    expect(r.process(new Float32Array(441), 441, first)).toBe(960);
    expect(first.every((v) => v === 0)).toBe(true);
  });

  it('refuses bad rates and blocks with a RangeError naming the value', () => {
    expect(() => new Resampler(0, 48000, 10)).toThrow(/fromRate .* got 0/);
    expect(() => new Resampler(44100, 44100.5, 10)).toThrow(RangeError);
    expect(() => new Resampler(44100, 48000, 0)).toThrow(/maxBlock .* got 0/);
    expect(() => new Resampler(44100, 48000, 10, { halfTaps: 1 })).toThrow(/halfTaps/);
    const r = new Resampler(44100, 48000, 882);
    expect(() => r.process(new Float32Array(1000), 1000, new Float32Array(2000))).toThrow(/at most 882/);
    expect(() => r.process(new Float32Array(882), 882, new Float32Array(10))).toThrow(/out holds 10/);
  });
});
