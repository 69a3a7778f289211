import { describe, expect, it } from 'vitest';
import { dbToAmp } from './constants.ts';
import { BandSpectrum, defaultSpectrumFftSize } from './spectrum.ts';
import { inBlocks, noise, sine } from './test-signals.ts';

/** Feeds buf in 20 ms blocks (as the relay does), computes, returns the analyser. */
function analyse(sampleRate: number, buf: Float32Array, opts?: ConstructorParameters<typeof BandSpectrum>[1]): BandSpectrum {
  const s = new BandSpectrum(sampleRate, opts);
  inBlocks(buf, Math.round(sampleRate / 50), (b, n) => s.push(b, n));
  s.compute();
  return s;
}

/** Index of the band whose edges [c·2^(-1/2b), c·2^(1/2b)) contain hz. */
function bandOf(s: BandSpectrum, hz: number, perOctave = 6): number {
  const half = 2 ** (1 / (2 * perOctave));
  return Array.from(s.bandsHz).findIndex((c) => c / half <= hz && hz < c * half);
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Sum of the bands' powers (peak-convention mean squares), in dB. */
function totalDb(db: Float32Array): number {
  let sum = 0;
  for (const v of db) sum += 10 ** (v / 10);
  return 10 * Math.log10(sum);
}

describe('BandSpectrum levels', () => {
  it('reads a 1 kHz sine at -12 dBFS as -12 ± 1 dB in the band holding 1 kHz, its peak', () => {
    for (const rate of [8000, 16000, 44100, 48000]) {
      const s = analyse(rate, sine(rate, 1000, dbToAmp(-12), rate / 2));
      const band = bandOf(s, 1000);
      expect(band, `${rate} Hz`).toBeGreaterThan(0);
      expect(argmax(s.db), `${rate} Hz`).toBe(band);
      expect(Math.abs(s.db[band] + 12), `${rate} Hz: ${s.db[band]}`).toBeLessThan(1);
    }
  });

  it('reads the bands two octaves from a 1 kHz sine at least 40 dB below it', () => {
    for (const rate of [16000, 48000]) {
      const s = analyse(rate, sine(rate, 1000, dbToAmp(-12), rate / 2));
      const band = bandOf(s, 1000);
      expect(s.db[band] - s.db[band - 12], `${rate} Hz, 250 Hz`).toBeGreaterThan(40);
      expect(s.db[band] - s.db[band + 12], `${rate} Hz, 4 kHz`).toBeGreaterThan(40);
    }
  });

  it('reads a full-scale sine anywhere in the band list as 0 dBFS summed over the bands (one band unless near an edge)', () => {
    for (const hz of [100, 440, 997, 1000, 3150, 10000, 18000]) {
      const s = analyse(48000, sine(48000, hz, 1, 24000));
      expect(Math.abs(totalDb(s.db)), `${hz} Hz`).toBeLessThan(0.05);
    }
    // 1 kHz sits 3.5 bins above its band's lower edge: the whole main lobe is in one band.
    const s = analyse(48000, sine(48000, 1000, 1, 24000));
    expect(s.db[bandOf(s, 1000)]).toBeCloseTo(0, 1);
  });

  it('reads white noise rising 3.01 dB per octave (10·log10(2)/6 per band), summing to twice its mean square', () => {
    const rate = 48000;
    const s = new BandSpectrum(rate);
    const frames = 64; // average power over frames: one FFT's bins scatter by ±5 dB
    const mean = new Float64Array(s.db.length);
    const x = noise(s.fftSize * frames, 0.5, 11); // uniform: mean square 0.25/3
    for (let f = 0; f < frames; f++) {
      s.push(x.subarray(f * s.fftSize, (f + 1) * s.fftSize), s.fftSize);
      s.compute();
      for (let b = 0; b < mean.length; b++) mean[b] += 10 ** (s.db[b] / 10) / frames;
    }
    // Least-squares slope of dB against log2(centre) over the bands from 500 Hz (40+ bins each).
    const pts: [number, number][] = [];
    for (let b = 0; b < mean.length; b++) if (s.bandsHz[b] >= 500) pts.push([Math.log2(s.bandsHz[b]), 10 * Math.log10(mean[b])]);
    const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
    const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
    const slope = pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
    expect(slope).toBeCloseTo(10 * Math.log10(2), 0);
    expect(Math.abs(slope - 3.0103)).toBeLessThan(0.15);
    let total = 0;
    for (const v of mean) total += v;
    expect(10 * Math.log10(total)).toBeCloseTo(10 * Math.log10((2 * 0.25) / 3), 1);
  });

  it('reads silence as exactly -120 in every band, before and after audio', () => {
    const s = new BandSpectrum(48000);
    s.compute();
    expect(Array.from(s.db).every((v) => v === -120)).toBe(true);
    s.push(new Float32Array(48000), 48000);
    s.compute();
    expect(Array.from(s.db).every((v) => v === -120)).toBe(true);
  });

  it('never reads NaN, even after a NaN sample', () => {
    const s = new BandSpectrum(16000);
    const x = noise(2048, 0.5, 4);
    x[100] = NaN;
    s.push(x, x.length);
    s.compute();
    expect(Array.from(s.db).every((v) => v >= -120)).toBe(true);
  });

  it('fills every band for white noise at small FFT sizes (empty bands read their nearest bin)', () => {
    for (const rate of [8000, 16000]) {
      const s = analyse(rate, noise(rate, 0.5, 5));
      expect(Array.from(s.db).every((v) => v > -60), `${rate} Hz`).toBe(true);
      // 20 Hz band at 8 kHz / 512 points: 15.6 Hz bins, none between 17.8 and 22.4 Hz.
      expect(s.db[0]).toBeGreaterThan(-60);
    }
  });
});

describe('BandSpectrum window and bands', () => {
  it('keeps only the last fftSize samples: a loud past followed by fftSize of silence reads -120', () => {
    const s = new BandSpectrum(48000);
    s.push(sine(48000, 1000, 1, 10000), 10000);
    s.compute();
    expect(Math.max(...s.db)).toBeGreaterThan(-1);
    const silence = new Float32Array(s.fftSize);
    s.push(silence, s.fftSize / 2);
    s.compute();
    expect(Math.max(...s.db)).toBeGreaterThan(-6); // the sine still fills the older half of the window
    s.push(silence, s.fftSize / 2);
    s.compute();
    expect(Array.from(s.db).every((v) => v === -120)).toBe(true);
  });

  it('reads the same whether fed in one block longer than the window or in small blocks', () => {
    const x = noise(20000, 0.3, 9);
    const one = new BandSpectrum(48000);
    one.push(x, x.length);
    one.compute();
    const many = analyse(48000, x);
    expect(one.db).toEqual(many.db);
    const ragged = new BandSpectrum(48000);
    inBlocks(x, 127, (b, n) => ragged.push(b, n));
    ragged.compute();
    expect(ragged.db).toEqual(many.db);
  });

  it('reset() forgets the audio', () => {
    const s = analyse(48000, noise(8192, 0.5, 2));
    s.reset();
    expect(Array.from(s.db).every((v) => v === -120)).toBe(true);
    s.compute();
    expect(Array.from(s.db).every((v) => v === -120)).toBe(true);
  });

  it('defaults to a ~85 ms power-of-two window: 4096 at 44.1 and 48 kHz, 512 at 8 kHz, 1024 at 16 kHz, 8192 at 96 kHz', () => {
    expect([8000, 16000, 22050, 44100, 48000, 96000].map(defaultSpectrumFftSize)).toEqual([512, 1024, 2048, 4096, 4096, 8192]);
    expect(new BandSpectrum(48000).fftSize).toBe(4096);
    expect(new BandSpectrum(48000, { fftSize: 1024 }).fftSize).toBe(1024);
  });

  it('spaces band centres 2^(1/6) apart from 20 Hz up to the last at or below Nyquist', () => {
    for (const [rate, count] of [[8000, 46], [16000, 52], [44100, 61], [48000, 62]]) {
      const s = new BandSpectrum(rate);
      const c = s.bandsHz;
      expect(c.length, `${rate} Hz`).toBe(count);
      expect(s.db.length).toBe(count);
      expect(c[0]).toBe(20);
      for (let i = 1; i < c.length; i++) expect(c[i] / c[i - 1]).toBeCloseTo(2 ** (1 / 6), 5);
      expect(c[c.length - 1]).toBeLessThanOrEqual(rate / 2);
      expect(c[c.length - 1] * 2 ** (1 / 6)).toBeGreaterThan(rate / 2);
      // 6 per octave: 1 kHz to 2 kHz spans 6 bands.
      expect(bandOf(s, 2000) - bandOf(s, 1000)).toBe(6);
    }
  });

  it('honours bandsPerOctave and minHz (third octaves from 25 Hz at 48 kHz: 30 bands, 25 Hz .. 20.3 kHz)', () => {
    const s = new BandSpectrum(48000, { bandsPerOctave: 3, minHz: 25 });
    expect(s.bandsHz.length).toBe(30);
    expect(s.bandsHz[3]).toBeCloseTo(50, 4);
    const x = sine(48000, 1000, dbToAmp(-6), 24000);
    s.push(x, x.length);
    s.compute();
    expect(argmax(s.db)).toBe(bandOf(s, 1000, 3));
    expect(Math.abs(s.db[bandOf(s, 1000, 3)] + 6)).toBeLessThan(1);
  });

  it('includes a band centred exactly on Nyquist', () => {
    const s = new BandSpectrum(8000, { minHz: 125 }); // 125·2^5 = 4000
    expect(s.bandsHz[s.bandsHz.length - 1]).toBe(4000);
  });

  it('rejects bad sample rates, FFT sizes, band counts, minHz and block lengths', () => {
    expect(() => new BandSpectrum(4000)).toThrow(RangeError);
    expect(() => new BandSpectrum(NaN)).toThrow(RangeError);
    for (const fftSize of [1000, 32, 131072, 4096.5]) expect(() => new BandSpectrum(48000, { fftSize })).toThrow(RangeError);
    for (const bandsPerOctave of [0, 2.5, 100]) expect(() => new BandSpectrum(48000, { bandsPerOctave })).toThrow(RangeError);
    for (const minHz of [0, -20, 24000, NaN]) expect(() => new BandSpectrum(48000, { minHz })).toThrow(RangeError);
    const s = new BandSpectrum(48000);
    expect(() => s.push(new Float32Array(10), 11)).toThrow(RangeError);
    expect(() => s.push(new Float32Array(10), -1)).toThrow(RangeError);
  });
});
