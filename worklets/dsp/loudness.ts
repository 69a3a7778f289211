/**
 * EBU R 128 loudness over time: momentary (400 ms) and short-term (3 s) loudness updated
 * every 100 ms, integrated loudness (ITU-R BS.1770-4 §2.3 gating) and loudness range
 * (EBU Tech 3342), with memory that does not grow however long a station runs.
 *
 * The unit of work is the 100 ms step: whoever K-weights the audio (FrameMeter for a mono
 * tap, LoudnessMeter for any channel count) sums the K-weighted, channel-weighted squares
 * of each step and hands the sum to a LoudnessIntegrator. A 400 ms gating block is four
 * consecutive steps, so blocks overlap by 75 % as BS.1770-4 asks, and M and S are the
 * newest 4 and 30 steps.
 *
 * Gating over hours keeps no list of blocks: each gating block (and each short-term value,
 * for the loudness range) lands in a histogram of 0.1 LU bins from -70 to +10 LUFS that
 * keeps, per bin, the exact sum of the powers and the count (libebur128's histogram mode
 * keeps counts only and reads a bin as its centre). Gating sums whole bins, so integrated
 * loudness is exact except for the blocks in the one bin the relative gate falls in, which
 * are counted in proportion to the part of the bin above the gate.
 */

import { DB_FLOOR } from './constants.ts';
import { kWeightingHighpassCoefficients, kWeightingShelfCoefficients, STATE_FLUSH } from './biquad.ts';
import { TruePeakMeter } from './true-peak.ts';

/** BS.1770-4 §2.3: blocks at or below -70 LUFS never count. */
export const ABSOLUTE_GATE_LUFS = -70;
/** BS.1770-4 §2.3: integrated loudness counts blocks more than 10 LU below the absolute-gated loudness out. */
export const RELATIVE_GATE_LU = -10;
/** EBU Tech 3342 §3: loudness range counts short-term values more than 20 LU below their gated loudness out. */
export const LRA_RELATIVE_GATE_LU = -20;
/** M and S update period and the gating-block hop (400 ms blocks, 75 % overlap). */
export const STEP_MS = 100;
/** EBU Tech 3341 §2.2: the short-term window. */
export const SHORT_TERM_WINDOW_MS = 3000;

/** BS.1770-4 eq. 2 offset, LU. */
const LOUDNESS_OFFSET = -0.691;
const MOMENTARY_STEPS = 4;
const SHORT_TERM_STEPS = SHORT_TERM_WINDOW_MS / STEP_MS;
/** Tech 3342 §3: the 10th and 95th percentiles of the gated short-term distribution. */
const LRA_LOW_PERCENTILE = 0.1;
const LRA_HIGH_PERCENTILE = 0.95;

/** -0.691 + 10·log10(power) for a K-weighted, channel-weighted mean square; DB_FLOOR for power 0. */
export function powerToLufs(power: number): number {
  // log10(0) = -Infinity and log10 of a negative or NaN power is NaN: both end at the floor.
  // Math.max rather than a ternary with the integer constant, which would make V8 box the
  // result (an allocation per step).
  const lufs = LOUDNESS_OFFSET + 10 * Math.log10(power > 0 ? power : 0);
  return Math.max(lufs, DB_FLOOR);
}

/** Inverse of powerToLufs: the mean square that reads `lufs`. */
export function lufsToPower(lufs: number): number {
  return Math.pow(10, (lufs - LOUDNESS_OFFSET) / 10);
}

const ABSOLUTE_GATE_POWER = lufsToPower(ABSOLUTE_GATE_LUFS);
const gateResult: { lufs: number | null; passed: number } = { lufs: null, passed: 0 };

/**
 * BS.1770-4 two-pass gating over `count` 400 ms block powers (mean squares); the array is
 * only read. First the absolute gate (-70 LUFS), then the relative gate 10 LU below the
 * loudness of the blocks that passed it, or below `relativeTo` (LUFS) when given (e.g. a
 * station's integrated loudness, to gate a bucket's own blocks). Returns the loudness of
 * the blocks that pass both gates and how many pass, or lufs null when none pass. The
 * result object is reused by the next call: copy its fields out at once.
 */
export function gateBlocks(powers: Float64Array, count: number, relativeTo?: number | null): { lufs: number | null; passed: number } {
  if (!(Number.isInteger(count) && count >= 0 && count <= powers.length)) {
    throw new RangeError(`count must be an integer 0..${powers.length}, got ${count}`);
  }
  if (relativeTo != null && Number.isNaN(relativeTo)) throw new RangeError('relativeTo must be a loudness in LUFS or null, got NaN');
  let relativePower: number;
  if (relativeTo == null) {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const p = powers[i];
      if (p > ABSOLUTE_GATE_POWER) {
        sum += p;
        n++;
      }
    }
    relativePower = n > 0 ? (sum / n) * Math.pow(10, RELATIVE_GATE_LU / 10) : Infinity;
  } else {
    relativePower = lufsToPower(relativeTo + RELATIVE_GATE_LU);
  }
  let sum = 0;
  let passed = 0;
  for (let i = 0; i < count; i++) {
    const p = powers[i];
    if (p > ABSOLUTE_GATE_POWER && p > relativePower) {
      sum += p;
      passed++;
    }
  }
  gateResult.lufs = passed > 0 ? powerToLufs(sum / passed) : null;
  gateResult.passed = passed;
  return gateResult;
}

const BIN_LU = 0.1;
const BINS = 800; // -70 .. +10 LUFS; louder values go into the top bin (its sums stay exact)

/**
 * Powers above the absolute gate in 0.1 LU bins, each with the exact sum of its powers and
 * its count. `gate(lufs)` finds the bins above a relative gate: every bin above the one the
 * gate falls in, and that one weighted by the share of its width above the gate.
 */
class GatingHistogram {
  readonly energy = new Float64Array(BINS);
  readonly count = new Float64Array(BINS);
  totalEnergy = 0;
  totalCount = 0;
  /** Set by gate(): the lowest bin that counts, its weight (0..1), and the weighted sums above the gate. */
  gateBin = 0;
  gateWeight = 1;
  passedEnergy = 0;
  passedCount = 0;

  /** Adds a power whose loudness `lufs` is above the absolute gate. */
  add(power: number, lufs: number): void {
    let bin = Math.floor((lufs - ABSOLUTE_GATE_LUFS) / BIN_LU);
    bin = bin < 0 ? 0 : bin >= BINS ? BINS - 1 : bin;
    this.energy[bin] += power;
    this.count[bin]++;
    this.totalEnergy += power;
    this.totalCount++;
  }

  gate(gateLufs: number): void {
    const g = (gateLufs - ABSOLUTE_GATE_LUFS) / BIN_LU;
    let bin = 0;
    let weight = 1;
    if (g > 0) {
      bin = Math.floor(g);
      weight = 1 - (g - bin);
      if (bin >= BINS) {
        bin = BINS - 1;
        weight = 1;
      }
    }
    let e = weight * this.energy[bin];
    let n = weight * this.count[bin];
    for (let i = bin + 1; i < BINS; i++) {
      e += this.energy[i];
      n += this.count[i];
    }
    this.gateBin = bin;
    this.gateWeight = weight;
    this.passedEnergy = e;
    this.passedCount = n;
  }

  /** After gate(): the mean loudness of the bin holding the value of rank `rank` (0-based, ascending) among those that passed. */
  valueAt(rank: number): number {
    let seen = 0;
    for (let i = this.gateBin; i < BINS; i++) {
      const c = i === this.gateBin ? this.gateWeight * this.count[i] : this.count[i];
      seen += c;
      if (c > 0 && seen > rank) return powerToLufs(this.energy[i] / this.count[i]);
    }
    for (let i = BINS - 1; i >= 0; i--) if (this.count[i] > 0) return powerToLufs(this.energy[i] / this.count[i]);
    return DB_FLOOR;
  }

  clear(): void {
    this.energy.fill(0);
    this.count.fill(0);
    this.totalEnergy = this.totalCount = 0;
  }
}

/**
 * Momentary, short-term, integrated loudness and loudness range from 100 ms steps, with
 * bounded memory (see the file comment). Allocates nothing after construction.
 */
export class LoudnessIntegrator {
  /** Momentary loudness (the last 4 steps = 400 ms; fewer while fewer were seen), LUFS; DB_FLOOR until a step completed. */
  momentaryLufs = DB_FLOOR;
  /** Short-term loudness (the last 30 steps = 3 s; fewer while fewer were seen), LUFS; DB_FLOOR until a step completed. */
  shortTermLufs = DB_FLOOR;
  /** 400 ms blocks completed since start/reset (one per step from the 4th step on). */
  blocks = 0;
  /** The mean square of the newest completed 400 ms block (0 before the first). */
  lastBlockPower = 0;
  /** Called once per completed 400 ms block with its mean square, after the fields above are updated. */
  onBlock: ((power: number) => void) | null = null;

  /** The last 30 steps' sums of squares and sample counts, a ring; `head` is the next to write. */
  private readonly stepSums = new Float64Array(SHORT_TERM_STEPS);
  private readonly stepSamples = new Float64Array(SHORT_TERM_STEPS);
  private head = 0;
  /** Steps seen since reset, capped at 30. */
  private steps = 0;
  private readonly blockHistogram = new GatingHistogram();
  private readonly shortTermHistogram = new GatingHistogram();
  // integratedLufs() and loudnessRangeLu() are computed at most once per step.
  private integratedValid = false;
  private integrated: number | null = null;
  private rangeValid = false;
  private range: number | null = null;

  /** One completed 100 ms step: the sum of its K-weighted, channel-weighted squares over `samples` samples. */
  addStep(sumSquares: number, samples: number): void {
    const sums = this.stepSums;
    const lens = this.stepSamples;
    let j = this.head;
    sums[j] = sumSquares;
    lens[j] = samples;
    this.head = j + 1 === SHORT_TERM_STEPS ? 0 : j + 1;
    const seen = this.steps < SHORT_TERM_STEPS ? ++this.steps : SHORT_TERM_STEPS;

    // Summed afresh each step (30 adds per 100 ms): no running sum to drift.
    let mSum = 0, mLen = 0, sSum = 0, sLen = 0;
    for (let k = 0; k < seen; k++) {
      if (k < MOMENTARY_STEPS) {
        mSum += sums[j];
        mLen += lens[j];
      }
      sSum += sums[j];
      sLen += lens[j];
      j = j === 0 ? SHORT_TERM_STEPS - 1 : j - 1;
    }
    const mPower = mLen > 0 ? mSum / mLen : 0;
    const sPower = sLen > 0 ? sSum / sLen : 0;
    this.momentaryLufs = powerToLufs(mPower);
    this.shortTermLufs = powerToLufs(sPower);

    if (seen === SHORT_TERM_STEPS && sPower > ABSOLUTE_GATE_POWER) {
      this.shortTermHistogram.add(sPower, this.shortTermLufs);
      this.rangeValid = false;
    }
    if (seen >= MOMENTARY_STEPS) {
      this.blocks++;
      this.lastBlockPower = mPower;
      if (mPower > ABSOLUTE_GATE_POWER) {
        this.blockHistogram.add(mPower, this.momentaryLufs);
        this.integratedValid = false;
      }
      if (this.onBlock !== null) this.onBlock(mPower);
    }
  }

  /** Integrated loudness since start/reset (BS.1770-4 §2.3: absolute and relative gates over the 400 ms blocks), LUFS, or null before any block passed. */
  integratedLufs(): number | null {
    if (!this.integratedValid) {
      const h = this.blockHistogram;
      if (h.totalCount === 0) this.integrated = null;
      else {
        h.gate(powerToLufs(h.totalEnergy / h.totalCount) + RELATIVE_GATE_LU);
        this.integrated = powerToLufs(h.passedEnergy / h.passedCount);
      }
      this.integratedValid = true;
    }
    return this.integrated;
  }

  /**
   * Loudness range since start/reset (EBU Tech 3342: the short-term values at each step once
   * 3 s were seen, gated at -70 LUFS and 20 LU below their own gated loudness; the 95th minus
   * the 10th percentile), LU, or null before any short-term value passed.
   */
  loudnessRangeLu(): number | null {
    if (!this.rangeValid) {
      const h = this.shortTermHistogram;
      if (h.totalCount === 0) this.range = null;
      else {
        h.gate(powerToLufs(h.totalEnergy / h.totalCount) + LRA_RELATIVE_GATE_LU);
        // Nearest-rank percentiles over the passing values, as libebur128 and the Tech 3342 reference code.
        const last = h.passedCount - 1;
        const low = h.valueAt(Math.round(last * LRA_LOW_PERCENTILE));
        const high = h.valueAt(Math.round(last * LRA_HIGH_PERCENTILE));
        this.range = high - low;
      }
      this.rangeValid = true;
    }
    return this.range;
  }

  reset(): void {
    this.stepSums.fill(0);
    this.stepSamples.fill(0);
    this.head = this.steps = 0;
    this.momentaryLufs = this.shortTermLufs = DB_FLOOR;
    this.blocks = 0;
    this.lastBlockPower = 0;
    this.blockHistogram.clear();
    this.shortTermHistogram.clear();
    this.integratedValid = this.rangeValid = false;
  }
}

export interface LoudnessMeterOptions {
  /** Channels, default 1. */
  channels?: number;
  /** BS.1770-4 channel weights Gi, default 1.0 each (1.41 for surround channels; the LFE is not measured). */
  channelWeights?: readonly number[];
}

/** A complete EBU R 128 meter for any channel count: K-weighting per channel, a LoudnessIntegrator and true peak. */
export class LoudnessMeter {
  readonly loudness = new LoudnessIntegrator();
  readonly channels: number;
  private readonly weights: Float64Array;
  private readonly truePeaks: TruePeakMeter[];
  // K-weighting shelf and RLB high-pass (numerator [1, -2, 1]) coefficients, and per
  // channel the four TDF-II states [shelf1, shelf2, rlb1, rlb2].
  private readonly sb0: number;
  private readonly sb1: number;
  private readonly sb2: number;
  private readonly sa1: number;
  private readonly sa2: number;
  private readonly ha1: number;
  private readonly ha2: number;
  private readonly state: Float64Array;
  /** Samples per 100 ms step, and the open step's samples and weighted sum of squares. */
  private readonly stepLength: number;
  private stepFilled = 0;
  private stepSum = 0;
  private peak = 0;

  /** `sampleRate` in Hz, 8000..384000. */
  constructor(sampleRate: number, options: LoudnessMeterOptions = {}) {
    if (!(sampleRate >= 8000 && sampleRate <= 384000)) {
      throw new RangeError(`sampleRate must be 8000..384000 Hz, got ${sampleRate}`);
    }
    const channels = options.channels ?? 1;
    if (!(Number.isInteger(channels) && channels >= 1 && channels <= 64)) {
      throw new RangeError(`channels must be an integer 1..64, got ${channels}`);
    }
    const weights = options.channelWeights ?? new Array<number>(channels).fill(1);
    if (weights.length !== channels || !weights.every((w) => w >= 0 && Number.isFinite(w))) {
      throw new RangeError(`channelWeights must be ${channels} finite weights >= 0, got [${weights.join(', ')}]`);
    }
    this.channels = channels;
    this.weights = Float64Array.from(weights);
    this.truePeaks = Array.from({ length: channels }, () => new TruePeakMeter(sampleRate));
    const s = kWeightingShelfCoefficients(sampleRate);
    const h = kWeightingHighpassCoefficients(sampleRate);
    this.sb0 = s.b0;
    this.sb1 = s.b1;
    this.sb2 = s.b2;
    this.sa1 = s.a1;
    this.sa2 = s.a2;
    this.ha1 = h.a1;
    this.ha2 = h.a2;
    this.state = new Float64Array(4 * channels);
    this.stepLength = Math.round((sampleRate * STEP_MS) / 1000);
  }

  /** The largest true peak since start/reset over all channels, dBTP (DB_FLOOR before any audio). */
  get truePeakDbtp(): number {
    return this.peak > 0 ? Math.max(DB_FLOOR, 20 * Math.log10(this.peak)) : DB_FLOOR;
  }

  /** Measures channels[c][0..length) (planar). Steps are cut at exact 100 ms sample boundaries, whatever the block length. */
  process(channels: readonly Float32Array[], length: number): void {
    const nc = this.channels;
    if (channels.length < nc) throw new RangeError(`expected ${nc} channels, got ${channels.length}`);
    for (let c = 0; c < nc; c++) {
      if (!(length >= 0 && length <= channels[c].length)) {
        throw new RangeError(`length must be 0..${channels[c].length} (channel ${c}), got ${length}`);
      }
    }
    const sb0 = this.sb0, sb1 = this.sb1, sb2 = this.sb2, sa1 = this.sa1, sa2 = this.sa2;
    const ha1 = this.ha1, ha2 = this.ha2;
    const st = this.state;
    let i = 0;
    while (i < length) {
      const remaining = this.stepLength - this.stepFilled;
      const end = length - i < remaining ? length : i + remaining;
      let segment = 0;
      for (let c = 0; c < nc; c++) {
        const x = channels[c];
        const o = 4 * c;
        let s1 = st[o], s2 = st[o + 1], h1 = st[o + 2], h2 = st[o + 3];
        let acc = 0;
        for (let n = i; n < end; n++) {
          const v = x[n];
          const u = sb0 * v + s1;
          s1 = sb1 * v + s2 - sa1 * u;
          s2 = sb2 * v - sa2 * u;
          const k = u + h1;
          h1 = h2 - 2 * u - ha1 * k;
          h2 = u - ha2 * k;
          acc += k * k;
        }
        st[o] = s1 > STATE_FLUSH || s1 < -STATE_FLUSH ? s1 : 0;
        st[o + 1] = s2 > STATE_FLUSH || s2 < -STATE_FLUSH ? s2 : 0;
        st[o + 2] = h1 > STATE_FLUSH || h1 < -STATE_FLUSH ? h1 : 0;
        st[o + 3] = h2 > STATE_FLUSH || h2 < -STATE_FLUSH ? h2 : 0;
        segment += this.weights[c] * acc;
      }
      this.stepSum += segment;
      this.stepFilled += end - i;
      i = end;
      if (this.stepFilled === this.stepLength) {
        this.loudness.addStep(this.stepSum, this.stepLength);
        this.stepSum = 0;
        this.stepFilled = 0;
      }
    }
    for (let c = 0; c < nc; c++) {
      const tp = this.truePeaks[c];
      tp.process(channels[c], length);
      if (tp.maxPeak > this.peak) this.peak = tp.maxPeak;
    }
  }

  reset(): void {
    this.loudness.reset();
    this.state.fill(0);
    this.stepFilled = 0;
    this.stepSum = 0;
    this.peak = 0;
    for (const tp of this.truePeaks) tp.reset();
  }
}
