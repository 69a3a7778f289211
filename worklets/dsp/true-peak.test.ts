import { describe, expect, it } from 'vitest';
import { TECH_3341_CASES } from './ebu-signals.ts';
import { inBlocks, mulberry32, noise, sine } from './test-signals.ts';
import { TRUE_PEAK_PHASE_0, TRUE_PEAK_PHASE_1, TruePeakMeter } from './true-peak.ts';

/** The Annex 2 prototype, 48 taps: phase p's tap k is h[4k + p]; phases 2 and 3 are 1 and 0 reversed. */
function prototype(): number[] {
  const phases = [TRUE_PEAK_PHASE_0, TRUE_PEAK_PHASE_1, [...TRUE_PEAK_PHASE_1].reverse(), [...TRUE_PEAK_PHASE_0].reverse()];
  const h: number[] = [];
  for (let k = 0; k < 12; k++) for (let p = 0; p < 4; p++) h.push(phases[p][k]);
  return h;
}

/**
 * BS.1770-4 Annex 2 the slow, obvious way: zero-stuff to 4x, convolve with the 48-tap
 * filter (gain 4 to make up the stuffed zeros), and take the largest |value|, together
 * with the largest |sample|.
 */
function referenceTruePeak(x: Float32Array): number {
  const h = prototype();
  const up = new Float64Array(x.length * 4);
  for (let i = 0; i < x.length; i++) up[4 * i] = 4 * x[i];
  let peak = 0;
  for (let i = 0; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]));
  for (let m = 0; m < up.length; m++) {
    let y = 0;
    for (let j = 0; j < 48 && j <= m; j++) y += (h[j] * up[m - j]) / 4;
    peak = Math.max(peak, Math.abs(y));
  }
  return peak;
}

const dbtp = (linear: number) => 20 * Math.log10(linear);
/** A sine in its steady state (the filter's 12 samples of history already full of it). */
function steady(fs: number, hz: number, amplitude: number, phaseDeg: number, samples: number): Float32Array {
  return sine(fs, hz, amplitude, samples, (phaseDeg * Math.PI) / 180);
}

describe('TruePeakMeter coefficients (BS.1770-4 Annex 2, Table 1)', () => {
  it('holds the published values', () => {
    expect(TRUE_PEAK_PHASE_0).toEqual([
      0.001708984375, 0.010986328125, -0.0196533203125, 0.033203125, -0.0594482421875, 0.1373291015625, 0.97216796875,
      -0.102294921875, 0.047607421875, -0.026611328125, 0.014892578125, -0.00830078125,
    ]);
    expect(TRUE_PEAK_PHASE_1).toEqual([
      -0.0291748046875, 0.029296875, -0.0517578125, 0.089111328125, -0.16650390625, 0.465087890625, 0.77978515625,
      -0.2003173828125, 0.1015625, -0.0582275390625, 0.0330810546875, -0.0189208984375,
    ]);
  });

  it('has phases that each pass DC with a gain close to 1 (an interpolator)', () => {
    const sum = (a: readonly number[]) => a.reduce((s, c) => s + c, 0);
    expect(Math.abs(sum(TRUE_PEAK_PHASE_0) - 1)).toBeLessThan(0.03);
    expect(Math.abs(sum(TRUE_PEAK_PHASE_1) - 1)).toBeLessThan(0.03);
  });
});

describe('TruePeakMeter', () => {
  it('oversamples 4x below 96 kHz, 2x below 192 kHz, not at all from 192 kHz', () => {
    expect(new TruePeakMeter(44100).oversampling).toBe(4);
    expect(new TruePeakMeter(48000).oversampling).toBe(4);
    expect(new TruePeakMeter(96000).oversampling).toBe(2);
    expect(new TruePeakMeter(176400).oversampling).toBe(2);
    expect(new TruePeakMeter(192000).oversampling).toBe(1);
  });

  it('equals the zero-stuffed 4x convolution of the Annex filter, whatever the block length', () => {
    const x = noise(5000, 0.7, 5);
    const expected = referenceTruePeak(x);
    for (const block of [1, 7, 128, 960, 1500, 5000]) {
      const t = new TruePeakMeter(48000);
      inBlocks(x, block, (b, n) => t.process(b, n));
      expect(t.maxPeak).toBeCloseTo(expected, 12);
    }
  });

  it('finds the peak between samples: a -6 dB sine at fs/4, 45° reads -6.0 (+0.2/-0.4) with samples at -9.03', () => {
    const x = steady(48000, 12000, 0.5, 45, 4800);
    const t = new TruePeakMeter(48000);
    t.process(x, x.length);
    expect(dbtp(Math.max(...x.map(Math.abs)))).toBeCloseTo(-9.03, 2);
    expect(t.maxPeakDbtp).toBeGreaterThanOrEqual(-6.02 - 0.4);
    expect(t.maxPeakDbtp).toBeLessThanOrEqual(-6.02 + 0.2);
  });

  it('reads over full scale: samples at ±0.997 of a 1.41 sine at fs/4, 45° read +3.0 dBTP (+0.2/-0.4)', () => {
    const x = steady(48000, 12000, 1.41, 45, 4800);
    const t = new TruePeakMeter(48000);
    t.process(x, x.length);
    expect(t.maxPeakDbtp).toBeGreaterThanOrEqual(3 - 0.4);
    expect(t.maxPeakDbtp).toBeLessThanOrEqual(3 + 0.2);
  });

  it('at 96 kHz (2x) finds the midpoint peak of a sine at fs/4, 45°', () => {
    const x = steady(96000, 24000, 0.5, 45, 9600);
    const t = new TruePeakMeter(96000);
    t.process(x, x.length);
    expect(t.maxPeakDbtp).toBeGreaterThanOrEqual(-6.02 - 0.4);
    expect(t.maxPeakDbtp).toBeLessThanOrEqual(-6.02 + 0.2);
  });

  it('at 192 kHz (1x) reads the sample peak', () => {
    const x = noise(4000, 0.6, 2);
    const t = new TruePeakMeter(192000);
    t.process(x, x.length);
    expect(t.maxPeak).toBe(Math.max(...x.map(Math.abs)));
  });

  it('counts the samples themselves: a lone full-scale sample reads exactly 0 dBTP', () => {
    const x = new Float32Array(64);
    x[30] = -1;
    const t = new TruePeakMeter(48000);
    t.process(x, x.length);
    expect(t.maxPeak).toBe(1);
    expect(t.maxPeakDbtp).toBe(0);
  });

  it('reports each block on its own in blockPeak and the largest since reset in maxPeak', () => {
    const t = new TruePeakMeter(48000);
    t.process(steady(48000, 1000, 0.5, 0, 960), 960);
    const loud = t.blockPeak;
    expect(loud).toBeGreaterThan(0.49);
    t.process(new Float32Array(960), 960); // its first 6 interpolated points still reach into the sine
    expect(t.blockPeak).toBeLessThan(loud);
    t.process(new Float32Array(960), 960);
    expect(t.blockPeak).toBe(0);
    expect(t.blockPeakDbtp).toBe(-120);
    expect(t.maxPeak).toBe(loud);
    t.reset();
    expect([t.blockPeak, t.maxPeak, t.maxPeakDbtp]).toEqual([0, 0, -120]);
  });

  it('carries its history across blocks: the interpolation straddling a block edge is measured', () => {
    // A sine at fs/4, 45°, whose inter-sample peaks (+3 dB over the samples) are all found
    // only through the filter: cut into 1-sample blocks, it still reads the same.
    const x = steady(48000, 12000, 0.5, 45, 480);
    const whole = new TruePeakMeter(48000);
    whole.process(x, x.length);
    const single = new TruePeakMeter(48000);
    inBlocks(x, 1, (b, n) => single.process(b, n));
    expect(single.maxPeak).toBe(whole.maxPeak);
  });

  it('recovers from a NaN sample once it has left the filter', () => {
    const t = new TruePeakMeter(48000);
    const bad = steady(48000, 1000, 0.25, 0, 960);
    bad[100] = Number.NaN;
    t.process(bad, 960);
    t.process(steady(48000, 1000, 0.5, 0, 960), 960);
    expect(Number.isNaN(t.blockPeak)).toBe(false);
    expect(t.blockPeak).toBeGreaterThan(0.49);
    expect(t.blockPeak).toBeLessThan(0.52);
  });

  it('rejects rates it cannot serve and lengths beyond the buffer', () => {
    expect(() => new TruePeakMeter(4000)).toThrow(RangeError);
    expect(() => new TruePeakMeter(Number.NaN)).toThrow(RangeError);
    expect(() => new TruePeakMeter(48000).process(new Float32Array(4), 5)).toThrow(RangeError);
  });
});

/**
 * The full computation, every point, straight from the coefficient tables. At 4x each
 * mirrored pair of phases comes from the sums and differences of mirrored samples, with
 * the meter's arithmetic in the meter's order (so a screened reading must match it bit for
 * bit, not just closely): per sample, the larger of twice the pair maxima and twice |x|. At
 * 2x, phases 0 and 2 directly, with |x|; at 1x, |x|. Samples before x[0] are 0 (a fresh or
 * reset meter). A NaN point is left as NaN: the block maxima below skip it, as the meter's
 * comparisons do.
 */
function fullPoints(x: Float32Array, oversampling: number): Float64Array {
  const P0 = TRUE_PEAK_PHASE_0;
  const P1 = TRUE_PEAK_PHASE_1;
  const at = (i: number) => (i >= 0 ? x[i] : 0);
  const points = new Float64Array(x.length);
  for (let n = 0; n < x.length; n++) {
    if (oversampling === 1) {
      points[n] = Math.abs(x[n]);
    } else if (oversampling === 2) {
      let y0 = 0;
      let y2 = 0;
      for (let k = 0; k < 12; k++) {
        y0 += P0[k] * at(n - k);
        y2 += P1[11 - k] * at(n - k);
      }
      points[n] = Math.max(Math.abs(y0), Math.abs(y2), Math.abs(x[n]));
    } else {
      // Tap j of a phase meets tap 11 − j of its mirror: s_j and d_j pair x[n − j] with x[n − 11 + j].
      let sum0 = 0, diff0 = 0, sum1 = 0, diff1 = 0;
      for (let j = 0; j < 6; j++) {
        const s = at(n - j) + at(n - 11 + j);
        const d = at(n - j) - at(n - 11 + j);
        const term0 = (P0[j] + P0[11 - j]) * s, term0d = (P0[j] - P0[11 - j]) * d;
        const term1 = (P1[j] + P1[11 - j]) * s, term1d = (P1[j] - P1[11 - j]) * d;
        sum0 = j === 0 ? term0 : sum0 + term0;
        diff0 = j === 0 ? term0d : diff0 + term0d;
        sum1 = j === 0 ? term1 : sum1 + term1;
        diff1 = j === 0 ? term1d : diff1 + term1d;
      }
      const p03 = Math.abs(sum0) + Math.abs(diff0);
      const p12 = Math.abs(sum1) + Math.abs(diff1);
      const a = 2 * Math.abs(x[n]);
      let v = 0;
      if (p03 > v) v = p03;
      if (p12 > v) v = p12;
      if (a > v) v = a;
      points[n] = v;
    }
  }
  return points;
}

/** Block lengths covering `total` samples: all `block` long, or seeded random ones of 0..5000 (0 included). */
function blockLengths(total: number, block: number | 'random'): number[] {
  const lengths: number[] = [];
  const next = mulberry32(total + 17);
  for (let done = 0; done < total; ) {
    const want = block === 'random' ? (next() < 0.05 ? 0 : Math.floor(next() * 5001)) : block;
    const n = Math.min(want, total - done);
    lengths.push(n);
    done += n;
  }
  return lengths;
}

const BLOCKINGS: readonly (number | 'random')[] = [128, 960, 882, 1, 4096, 'random'];

/**
 * Feeds x to a fresh meter in blocks of `lengths` and checks blockPeak and maxPeak after
 * every block against the full computation. Each block is handed over as the head of a
 * longer buffer whose tail is loud garbage, which the meter must not read. Readings are
 * compared with Object.is (toBe's equality) and the first difference goes through toBe with
 * its block named: a toBe per block would take most of the run.
 */
function expectFullReadings(x: Float32Array, sampleRate: number, lengths: readonly number[], label: string): void {
  const meter = new TruePeakMeter(sampleRate);
  const points = fullPoints(x, meter.oversampling);
  const scale = meter.oversampling === 4 ? 0.5 : 1;
  const buffer = new Float32Array(lengths.reduce((a, b) => Math.max(a, b), 0) + 32);
  let maxPeak = 0;
  let from = 0;
  let checked = 0;
  for (const [b, n] of lengths.entries()) {
    buffer.set(x.subarray(from, from + n));
    buffer.fill(1e30, n);
    meter.process(buffer, n);
    let peak = 0;
    for (let i = from; i < from + n; i++) if (points[i] > peak) peak = points[i];
    const blockPeak = scale * peak;
    if (blockPeak > maxPeak) maxPeak = blockPeak;
    if (!Object.is(meter.blockPeak, blockPeak) || !Object.is(meter.maxPeak, maxPeak)) {
      const where = `${label}, block ${b} (samples ${from}..${from + n})`;
      expect(meter.blockPeak, `${where}: blockPeak`).toBe(blockPeak);
      expect(meter.maxPeak, `${where}: maxPeak`).toBe(maxPeak);
    }
    from += n;
    checked++;
  }
  expect(checked).toBe(lengths.length);
  expect(from).toBe(x.length);
}

/**
 * Speech-like: syllables of a glottal pulse train (90-250 Hz) through two decaying formant
 * resonances, each under a raised-cosine envelope of 80-250 ms and at its own level within
 * 20 dB, in phrases of 2-6 syllables between 150-500 ms pauses; the pauses are digital
 * silence, or noise at `floor` (linear peak) when given.
 */
function speechBursts(sampleRate: number, seconds: number, seed: number, floor = 0): Float32Array {
  const x = new Float32Array(Math.round(seconds * sampleRate));
  const next = mulberry32(seed);
  const between = (lo: number, hi: number) => lo + (hi - lo) * next();
  for (let i = 0; i < x.length; i++) x[i] = floor * (2 * next() - 1);
  let i = Math.round(between(0.02, 0.2) * sampleRate);
  while (i < x.length) {
    const syllables = 2 + Math.floor(next() * 5);
    for (let s = 0; s < syllables && i < x.length; s++) {
      const length = Math.round(between(0.08, 0.25) * sampleRate);
      const period = Math.round(sampleRate / between(90, 250));
      const level = 10 ** (between(-20, 0) / 20);
      const formants = [between(300, 900), between(900, 2500)].map((hz) => {
        const r = Math.exp((-Math.PI * between(60, 200)) / sampleRate);
        return { a1: 2 * r * Math.cos((2 * Math.PI * Math.min(hz, 0.4 * sampleRate)) / sampleRate), a2: -r * r, g: 1 - r, y1: 0, y2: 0 };
      });
      for (let k = 0; k < length && i < x.length; k++, i++) {
        const pulse = k % period === 0 ? 1 : 0;
        let v = 0;
        for (const f of formants) {
          const y = f.g * pulse + f.a1 * f.y1 + f.a2 * f.y2;
          f.y2 = f.y1;
          f.y1 = y;
          v += y;
        }
        x[i] += 2 * level * Math.sin((Math.PI * k) / length) ** 2 * v;
      }
    }
    i += Math.round(between(0.15, 0.5) * sampleRate);
  }
  return x;
}

/** A sine driven `driveDb` over full scale and hard-clipped at ±1. */
function clippedSine(sampleRate: number, hz: number, driveDb: number, seconds: number): Float32Array {
  const x = sine(sampleRate, hz, 10 ** (driveDb / 20), Math.round(seconds * sampleRate), 0.3);
  for (let i = 0; i < x.length; i++) x[i] = Math.max(-1, Math.min(1, x[i]));
  return x;
}

/**
 * Windows that reach the bound: 12 samples of ±level with the signs of phase 1's taps make
 * its point Σ|h_k|·level exactly, the largest any window of that level can give. Bursts of
 * them at levels a part per million apart, 0.01 dB apart and equal, on a quiet noise bed, put
 * the screening's decisions as close to its margin as signals get.
 */
function boundBursts(sampleRate: number): Float32Array {
  const x = noise(Math.round(0.3 * sampleRate), 1e-3, 11);
  const signs = [...TRUE_PEAK_PHASE_1].reverse().map(Math.sign);
  const levels = [0.5, 0.5 * (1 - 1e-6), 0.5 * 10 ** (-0.01 / 20), 0.5, 0.25];
  for (const [b, level] of levels.entries()) {
    const at = 500 + b * 997;
    for (let k = 0; k < 12 && at + k < x.length; k++) x[at + k] = signs[k] * level;
  }
  return x;
}

const RATES = [16000, 44100, 48000, 96000, 192000] as const;

const SIGNALS: readonly [string, (sampleRate: number) => Float32Array][] = [
  ['white noise at full scale', (fs) => noise(Math.round(0.3 * fs), 1, 1)],
  ['white noise at -6 dBFS', (fs) => noise(Math.round(0.3 * fs), 0.5, 2)],
  ['white noise at -40 dBFS', (fs) => noise(Math.round(0.3 * fs), 0.01, 3)],
  ['white noise at -80 dBFS', (fs) => noise(Math.round(0.3 * fs), 1e-4, 4)],
  ['white noise of float32 subnormals', (fs) => noise(Math.round(0.1 * fs), 1e-40, 5)],
  ['noise stepping 30 dB every 5 ms', (fs) => noise(Math.round(0.3 * fs), 1, 6).map((v, i) => (Math.floor(i / (0.005 * fs)) % 2 ? v : v * 0.03))],
  ['speech-like bursts between silences', (fs) => speechBursts(fs, 2, 7)],
  ['speech-like bursts over a -70 dBFS floor', (fs) => speechBursts(fs, 2, 8, 10 ** (-70 / 20))],
  ['a 997 Hz sine clipped 12 dB over full scale', (fs) => clippedSine(fs, 997, 12, 0.3)],
  ['a sine at 0.45 fs clipped 3 dB over full scale', (fs) => clippedSine(fs, 0.45 * fs, 3, 0.3)],
  ['windows that reach the bound', boundBursts],
  ...TECH_3341_CASES.filter((c) => c.generate(48000).expectations.some((e) => e.measure === 'TP')).map(
    (c): [string, (fs: number) => Float32Array] => [`${c.id} (${c.description})`, (fs) => c.generate(fs).channels[0]],
  ),
];

describe('TruePeakMeter: every reading is the full computation’s, bit for bit', () => {
  for (const sampleRate of RATES) {
    for (const [name, generate] of SIGNALS) {
      it(`${name}, ${sampleRate} Hz, in blocks of ${BLOCKINGS.join(', ')}`, () => {
        const x = generate(sampleRate);
        for (const block of BLOCKINGS) expectFullReadings(x, sampleRate, blockLengths(x.length, block), `blocks of ${block}`);
      });
    }
  }

  it('a lone impulse at every position of two runs, in a block, across a block edge and a 1024-sample chunk edge', () => {
    for (const sampleRate of RATES) {
      for (const at of [
        ...Array.from({ length: 40 }, (_, k) => 300 + k),
        ...Array.from({ length: 24 }, (_, k) => 948 + k),
        ...Array.from({ length: 24 }, (_, k) => 1012 + k),
        0,
        1,
        2999,
      ]) {
        for (const amplitude of [1, -0.3]) {
          const x = new Float32Array(3000);
          x[at] = amplitude;
          for (const block of [960, 128, 4096, 1, 'random'] as const) {
            expectFullReadings(x, sampleRate, blockLengths(x.length, block), `impulse ${amplitude} at ${at}, ${sampleRate} Hz, blocks of ${block}`);
          }
        }
      }
    }
  });

  it('a loud impulse with a smaller one at every distance after it (one is skipped, one is not)', () => {
    for (const [second, level] of [
      [1, 0.9],
      [5, 0.6],
      [11, 0.45],
      [16, 0.3],
      [27, 0.49],
      [40, 0.2],
    ] as const) {
      const x = noise(2000, 1e-4, second);
      x[700] = 1;
      x[700 + second] = -level;
      for (const block of BLOCKINGS) expectFullReadings(x, 48000, blockLengths(x.length, block), `impulse pair ${second} apart, blocks of ${block}`);
    }
  });

  it('computes a run that can beat the peak so far by 3·10^-10 only (the bound and its rounding margin are tight enough)', () => {
    // Two bound-reaching windows of ±0.25 in separate runs; the first (the loudest run by a
    // tie, computed first) has the sample under the smallest tap one float32 step lower, so
    // its point falls short of the second's by 0.0189·2^-26, relative 5.6·10^-10 (less than
    // the bound's 2^-30 margin). Every product and sum here is exact in binary.
    const gain = TRUE_PEAK_PHASE_1.reduce((sum, h) => sum + Math.abs(h), 0);
    const signs = [...TRUE_PEAK_PHASE_1].reverse().map(Math.sign);
    const x = new Float32Array(3000);
    for (const at of [322, 642]) for (let k = 0; k < 12; k++) x[at + k] = signs[k] * 0.25;
    x[322] = signs[0] * (0.25 - 2 ** -26);
    const t = new TruePeakMeter(48000);
    t.process(x, 960);
    expect(t.blockPeak).toBe(0.25 * gain);
    for (const block of BLOCKINGS) expectFullReadings(x, 48000, blockLengths(x.length, block), `near-bound windows, blocks of ${block}`);
  });

  it('skips NaN points as the full computation does, and reads an infinite sample as infinite', () => {
    const x = speechBursts(48000, 1, 9);
    for (const at of [100, 5000, 20000, 20001]) x[at] = Number.NaN;
    x[30000] = Number.POSITIVE_INFINITY;
    x[40000] = Number.NEGATIVE_INFINITY;
    for (const block of BLOCKINGS) expectFullReadings(x, 48000, blockLengths(x.length, block), `NaN and infinities, blocks of ${block}`);
    const t = new TruePeakMeter(48000);
    t.process(x, x.length);
    expect(t.maxPeak).toBe(Number.POSITIVE_INFINITY);
    // A NaN just before the block's loudest sample, in silence, and a quieter sample elsewhere
    // that would otherwise pass for the peak: the run holding the NaN must still be measured.
    const y = new Float32Array(3000);
    y[500] = Number.NaN;
    y[501] = 0.8;
    y[2000] = 0.5;
    for (const block of BLOCKINGS) expectFullReadings(y, 48000, blockLengths(y.length, block), `NaN beside the peak, blocks of ${block}`);
  });

  it('starts again from silence after reset, whatever came before', () => {
    const t = new TruePeakMeter(48000);
    const loud = noise(5000, 1, 12);
    t.process(loud, 4000);
    t.reset();
    const x = speechBursts(48000, 0.5, 13);
    const points = fullPoints(x, 4);
    let peak = 0;
    for (const [b, n] of blockLengths(x.length, 960).entries()) {
      t.process(x.subarray(b * 960, b * 960 + n), n);
      let block = 0;
      for (let i = b * 960; i < b * 960 + n; i++) if (points[i] > block) block = points[i];
      if (0.5 * block > peak) peak = 0.5 * block;
      expect(t.blockPeak).toBe(0.5 * block);
      expect(t.maxPeak).toBe(peak);
    }
  });
});
