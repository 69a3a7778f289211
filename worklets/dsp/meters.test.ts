import { describe, expect, it } from 'vitest';
import { Biquad, kWeightingHighpassCoefficients, kWeightingShelfCoefficients } from './biquad.ts';
import { CLIP_THRESHOLD, dbToAmp } from './constants.ts';
import { gateBlocks, lufsToPower } from './loudness.ts';
import { FrameMeter } from './meters.ts';
import { inBlocks, noise, sine } from './test-signals.ts';

/** Runs buf through a new meter in blocks and returns the meter. */
function measure(sampleRate: number, buf: Float32Array, block = 960): FrameMeter {
  const m = new FrameMeter(sampleRate);
  inBlocks(buf, block, (b, n) => m.process(b, n));
  return m;
}

/** BS.1770-4 momentary loudness of the last 400 ms of buf, computed the slow, obvious way. */
function referenceLufs(sampleRate: number, buf: Float32Array): number {
  const shelf = new Biquad(kWeightingShelfCoefficients(sampleRate));
  const rlb = new Biquad(kWeightingHighpassCoefficients(sampleRate));
  const window = Math.round(0.4 * sampleRate);
  let sum = 0;
  for (let i = 0; i < buf.length; i++) {
    const y = rlb.processSample(shelf.processSample(buf[i]));
    if (i >= buf.length - window) sum += y * y;
  }
  return -0.691 + 10 * Math.log10(sum / Math.min(window, buf.length));
}

describe('FrameMeter block meters', () => {
  it('reads a -6 dBFS (0.5 peak) sine as -9.03 dBFS RMS and -6.02 dBFS peak', () => {
    const m = measure(48000, sine(48000, 1000, 0.5, 960));
    expect(m.rmsDbfs).toBeCloseTo(-9.0309, 3);
    expect(m.peakDbfs).toBeCloseTo(-6.0206, 4);
    expect(Math.abs(m.dcOffset)).toBeLessThan(1e-7);
    expect(m.clippingRatio).toBe(0);
  });

  it('reads a full-scale square wave as 0 dBFS RMS and peak, all samples clipped', () => {
    const sq = new Float32Array(960).map((_, i) => (i % 48 < 24 ? 1 : -1));
    const m = measure(48000, sq);
    expect(m.rmsDbfs).toBe(0);
    expect(m.peakDbfs).toBe(0);
    expect(m.clippingRatio).toBe(1);
    expect(m.dcOffset).toBe(0);
  });

  it('reads silence as exactly -120 everywhere, with no NaN', () => {
    const m = measure(48000, new Float32Array(48000));
    expect(m.rmsDbfs).toBe(-120);
    expect(m.peakDbfs).toBe(-120);
    expect(m.momentaryLufs).toBe(-120);
    expect(m.clippingRatio).toBe(0);
    expect(m.dcOffset).toBe(0);
  });

  it('reads an empty block without NaN', () => {
    const m = new FrameMeter(48000);
    m.process(new Float32Array(0), 0);
    expect([m.rmsDbfs, m.peakDbfs, m.momentaryLufs, m.clippingRatio, m.dcOffset]).toEqual([-120, -120, -120, 0, 0]);
  });

  it('reads the mean of a constant as its DC offset', () => {
    const m = measure(48000, new Float32Array(960).fill(0.25));
    expect(m.dcOffset).toBe(0.25);
    expect(m.rmsDbfs).toBeCloseTo(-12.0412, 4);
    const neg = measure(48000, new Float32Array(960).fill(-0.125));
    expect(neg.dcOffset).toBe(-0.125);
  });

  it('counts samples at or beyond CLIP_THRESHOLD, both rails', () => {
    const block = new Float32Array([1, -1, CLIP_THRESHOLD, -CLIP_THRESHOLD, 32766 / 32768, 1.5, 0, -0.5]);
    const m = measure(48000, block);
    expect(m.clippingRatio).toBe(5 / 8);
    expect(m.peakDbfs).toBeCloseTo(20 * Math.log10(1.5), 6);
  });

  it('reads the expected clipping share of a sine driven 6 dB into the rails', () => {
    // A 2.0-peak sine clipped at ±1: |2·sin θ| >= 32767/32768 for a share 1 − (2/π)·asin(CLIP/2) ≈ 2/3.
    const s = sine(48000, 997, 2, 48000).map((v) => Math.max(-1, Math.min(1, v)));
    const m = measure(48000, s, 48000);
    expect(m.clippingRatio).toBeCloseTo(1 - (2 / Math.PI) * Math.asin(CLIP_THRESHOLD / 2), 3);
    expect(m.peakDbfs).toBe(0);
  });

  it('reports each block on its own', () => {
    const m = new FrameMeter(48000);
    m.process(sine(48000, 1000, 1, 960), 960);
    m.process(new Float32Array(960), 960);
    expect(m.rmsDbfs).toBe(-120);
    expect(m.peakDbfs).toBe(-120);
  });

  it('rejects a length beyond the buffer', () => {
    expect(() => new FrameMeter(48000).process(new Float32Array(4), 5)).toThrow(RangeError);
  });
});

describe('FrameMeter momentary loudness (BS.1770-4)', () => {
  for (const fs of [8000, 16000, 44100, 48000]) {
    it(`reads a 997 Hz sine of amplitude A as 20·log10(A) − 3.01 LUFS at ${fs} Hz`, () => {
      for (const amplitude of [1, 0.5, dbToAmp(-20), dbToAmp(-50)]) {
        for (const block of [128, Math.round(fs / 50)]) {
          const m = measure(fs, sine(fs, 997, amplitude, fs), block);
          expect(Math.abs(m.momentaryLufs - (20 * Math.log10(amplitude) - 3.0103))).toBeLessThan(0.1);
        }
      }
    });
  }

  it('is exact to the standard at 48 kHz: a -20 dBFS 997 Hz sine reads -23.01 LUFS', () => {
    const m = measure(48000, sine(48000, 997, 0.1, 48000));
    expect(m.momentaryLufs).toBeCloseTo(-23.01, 2);
  });

  it('matches a direct computation over the last 400 ms after a long run, whatever the block size', () => {
    const input = noise(48000 * 12 + 333, 0.3, 7);
    const expected = referenceLufs(48000, input);
    for (const block of [128, 960, 1021]) {
      expect(measure(48000, input, block).momentaryLufs).toBeCloseTo(expected, 6);
    }
  });

  it('averages over what has been seen until 400 ms have passed', () => {
    const tone = 20 * Math.log10(0.5) - 3.0103;
    const m = new FrameMeter(48000);
    inBlocks(sine(48000, 997, 0.5, 4800), 480, (b, n) => m.process(b, n)); // 100 ms of tone
    expect(Math.abs(m.momentaryLufs - tone)).toBeLessThan(0.1);
    inBlocks(new Float32Array(4800), 480, (b, n) => m.process(b, n)); // + 100 ms of silence: half the energy
    expect(Math.abs(m.momentaryLufs - (tone - 3.0103))).toBeLessThan(0.1);
  });

  it('forgets a tone 400 ms after it stopped, down to exactly -120', () => {
    const tone = 20 * Math.log10(0.5) - 3.0103;
    const m = new FrameMeter(48000);
    inBlocks(sine(48000, 997, 0.5, 48000), 960, (b, n) => m.process(b, n));
    inBlocks(new Float32Array(9600), 960, (b, n) => m.process(b, n)); // 200 ms of silence: half the window
    expect(Math.abs(m.momentaryLufs - (tone - 3.0103))).toBeLessThan(0.05);
    inBlocks(new Float32Array(38400), 960, (b, n) => m.process(b, n)); // 1 s of silence in all
    expect(m.momentaryLufs).toBe(-120);
  });

  it('does not drift over a long run (the running sum is recomputed)', () => {
    const block = noise(320, 0.9, 3);
    const long = new FrameMeter(16000);
    for (let i = 0; i < 50 * 600; i++) long.process(block, 320); // 10 minutes of 20 ms blocks
    const short = new FrameMeter(16000);
    for (let i = 0; i < 50 * 2; i++) short.process(block, 320); // the same periodic signal, 2 s
    expect(long.momentaryLufs).toBeCloseTo(short.momentaryLufs, 9);
    for (let i = 0; i < 50; i++) long.process(new Float32Array(320), 320);
    expect(long.momentaryLufs).toBe(-120);
  });

  it('leaves no rounding residue from a burst far over full scale (the running sum is refreshed)', () => {
    const m = new FrameMeter(48000);
    inBlocks(noise(19200, 1000, 4), 960, (b, n) => m.process(b, n)); // +60 dBFS, 400 ms
    inBlocks(new Float32Array(2 * 19200), 960, (b, n) => m.process(b, n)); // two windows of silence
    const quiet = sine(48000, 997, dbToAmp(-90), 19200);
    inBlocks(quiet, 960, (b, n) => m.process(b, n));
    expect(m.momentaryLufs).toBeCloseTo(-93.01, 1);
  });

  it('starts again from nothing after reset', () => {
    const m = measure(48000, sine(48000, 997, 1, 48000));
    m.reset();
    expect(m.momentaryLufs).toBe(-120);
    m.process(new Float32Array(960), 960);
    expect(m.momentaryLufs).toBe(-120);
  });

  it('rejects sample rates it cannot design for', () => {
    expect(() => new FrameMeter(0)).toThrow(RangeError);
    expect(() => new FrameMeter(Number.NaN)).toThrow(RangeError);
    expect(() => new FrameMeter(4000)).toThrow(RangeError);
  });
});

describe('FrameMeter R 128 state (short-term, integrated, range, true peak)', () => {
  /** A 997 Hz sine of amplitude A reads 20·log10(A) − 3.01 LUFS (mono, BS.1770-4 G = 1.0). */
  const toneLufs = (amplitude: number) => 20 * Math.log10(amplitude) - 3.0103;

  it('reads a -20 dBFS 997 Hz sine as -23.01 LUFS short-term and integrated, with a range of 0 LU', () => {
    const m = measure(48000, sine(48000, 997, 0.1, 48000 * 5));
    expect(Math.abs(m.shortTermLufs - toneLufs(0.1))).toBeLessThan(0.02);
    expect(Math.abs((m.loudness.integratedLufs() as number) - toneLufs(0.1))).toBeLessThan(0.02);
    expect(m.loudness.loudnessRangeLu()).toBeCloseTo(0, 6);
  });

  it('holds short-term loudness at the last completed 100 ms step, DB_FLOOR before the first', () => {
    const m = new FrameMeter(48000);
    m.process(sine(48000, 997, 0.5, 4799), 4799);
    expect(m.shortTermLufs).toBe(-120);
    m.process(sine(48000, 997, 0.5, 2, 4799), 1);
    expect(Math.abs(m.shortTermLufs - toneLufs(0.5))).toBeLessThan(0.1);
  });

  it('reads the true peak of the block: a -6 dB sine at fs/4, 45° reads -6.0 dBTP (+0.2/-0.4) over samples at -9.03 dBFS', () => {
    const x = sine(48000, 12000, 0.5, 1920, Math.PI / 4);
    const m = new FrameMeter(48000);
    m.process(x, 960);
    m.process(x.subarray(960), 960);
    expect(m.peakDbfs).toBeCloseTo(-9.03, 2);
    expect(m.truePeakDbtp).toBeGreaterThanOrEqual(-6.02 - 0.4);
    expect(m.truePeakDbtp).toBeLessThanOrEqual(-6.02 + 0.2);
    m.process(new Float32Array(960), 960);
    m.process(new Float32Array(960), 960);
    expect(m.truePeakDbtp).toBe(-120);
  });

  it('feeds one 400 ms block per 100 ms step from the 4th step, whatever the block length (128-sample quanta, 20 ms at 44.1 kHz)', () => {
    const fs = 44100;
    const x = noise(fs * 6 + 77, 0.3, 21);
    const steps = Math.floor(x.length / 4410);
    let reference: number[] | null = null;
    for (const block of [128, 882, 1021, 4410, 44100]) {
      const m = new FrameMeter(fs);
      const powers: number[] = [];
      m.loudness.onBlock = (p) => powers.push(p);
      inBlocks(x, block, (b, n) => m.process(b, n));
      expect(m.loudness.blocks).toBe(steps - 3);
      expect(powers.length).toBe(steps - 3);
      if (reference === null) reference = powers;
      else for (let k = 0; k < powers.length; k++) expect(powers[k] / reference[k]).toBeCloseTo(1, 9);
    }
  });

  it('integrates exactly as gating its own blocks (BS.1770-4 §2.3) on a speech-like on/off signal', () => {
    // 1.2 s bursts of noise at changing levels with 0.8 s pauses: the relative gate works.
    const fs = 16000;
    const parts: Float32Array[] = [];
    for (let i = 0; i < 20; i++) {
      parts.push(noise(fs * 1.2, dbToAmp(-10 - (i % 5) * 6), i + 1), new Float32Array(fs * 0.8));
    }
    const x = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((o, p) => (x.set(p, o), o + p.length), 0);
    const m = new FrameMeter(fs);
    const blocks = new Float64Array(1000);
    let count = 0;
    m.loudness.onBlock = (p) => {
      blocks[count++] = p;
    };
    inBlocks(x, 320, (b, n) => m.process(b, n));
    const exact = gateBlocks(blocks, count);
    expect(exact.passed).toBeLessThan(count);
    expect(Math.abs((m.loudness.integratedLufs() as number) - (exact.lufs as number))).toBeLessThan(0.05);
    expect(m.loudness.loudnessRangeLu()).toBeGreaterThan(5);
  });

  it('is read at block granularity for M and at step granularity for S: both equal on a steady tone', () => {
    const m = measure(48000, sine(48000, 997, 0.25, 48000 * 4), 128);
    expect(m.momentaryLufs).toBeCloseTo(m.shortTermLufs, 2);
    expect(m.loudness.momentaryLufs).toBeCloseTo(m.momentaryLufs, 2);
  });

  it('resets all of it', () => {
    const m = measure(48000, sine(48000, 997, 1, 48000 * 4));
    m.reset();
    expect([m.shortTermLufs, m.truePeakDbtp, m.loudness.blocks, m.loudness.lastBlockPower]).toEqual([-120, -120, 0, 0]);
    expect(m.loudness.integratedLufs()).toBeNull();
    expect(m.loudness.loudnessRangeLu()).toBeNull();
    m.process(new Float32Array(960), 960);
    expect(m.truePeakDbtp).toBe(-120);
    // No filter or step residue: a fresh meter and a reset one read the same.
    const fresh = new FrameMeter(48000);
    fresh.process(new Float32Array(960), 960);
    const x = sine(48000, 440, 0.3, 48000);
    inBlocks(x, 960, (b, n) => {
      m.process(b, n);
      fresh.process(b, n);
    });
    expect(m.shortTermLufs).toBe(fresh.shortTermLufs);
    expect(m.loudness.integratedLufs()).toBe(fresh.loudness.integratedLufs());
    expect(lufsToPower(m.momentaryLufs)).toBeCloseTo(lufsToPower(fresh.momentaryLufs), 12);
  });
});
