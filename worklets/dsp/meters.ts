/**
 * Per-block meters of one mono tap: RMS, sample peak, clipping share, DC offset and
 * momentary loudness (ITU-R BS.1770-4 K-weighting, 400 ms window), plus the EBU R 128
 * state fed from the same K-weighted squares: short-term, integrated loudness and loudness
 * range (a LoudnessIntegrator fed in 100 ms steps) and the block's true peak
 * (BS.1770-4 Annex 2).
 *
 * One pass over the block computes everything: the K-weighting cascade is written out in
 * the loop with its state in locals rather than called through Biquad, because two meters
 * per station for hundreds of stations make this the hottest loop of the relay. The loop
 * is cut at 100 ms step boundaries, so the step's sum is one more add per sample and the
 * integrator is called outside the per-sample loop.
 * A Tapwire station is mono and is metered as one channel (G = 1.0, no dual-mono +3 dB).
 * The input is only read (a meter is a tap; the chain processes its own buffer).
 */

import { kWeightingHighpassCoefficients, kWeightingShelfCoefficients, STATE_FLUSH } from './biquad.ts';
import { CLIP_THRESHOLD, DB_FLOOR } from './constants.ts';
import { LoudnessIntegrator, STEP_MS } from './loudness.ts';
import { TruePeakMeter } from './true-peak.ts';

/** BS.1770-4 §2.1 momentary window: 400 ms. */
export const MOMENTARY_WINDOW_MS = 400;
/** BS.1770-4 eq. 2: L = -0.691 + 10·log10(Σ Gi·zi); mono, so G = 1.0. */
export const LOUDNESS_OFFSET_LU = -0.691;
/** Amplitude and mean square of DB_FLOOR, as in constants.ts: at or below them a reading is exactly DB_FLOOR. */
const AMP_FLOOR = 1e-6;
const POWER_FLOOR = 1e-12;

export class FrameMeter {
  /** RMS of the last block, dBFS (full-scale sine = -3.01), floored at DB_FLOOR. */
  rmsDbfs = DB_FLOOR;
  /** Largest |x| of the last block, dBFS, floored at DB_FLOOR. */
  peakDbfs = DB_FLOOR;
  /** Share (0..1) of the last block's samples with |x| >= CLIP_THRESHOLD. */
  clippingRatio = 0;
  /** Mean of the last block (linear, full scale = 1). */
  dcOffset = 0;
  /** Momentary loudness, LUFS: the last 400 ms up to and including the last block (less while fewer have been seen). */
  momentaryLufs = DB_FLOOR;
  /** Short-term loudness (3 s, 100 ms steps) as of the last completed step, LUFS; DB_FLOOR until a step completed. */
  shortTermLufs = DB_FLOOR;
  /** True peak of the last block (BS.1770-4 Annex 2), dBTP, floored at DB_FLOOR. */
  truePeakDbtp = DB_FLOOR;
  /**
   * The R 128 gating state fed by this meter (its K-weighted squares, in 100 ms steps):
   * integratedLufs(), loudnessRangeLu(), blocks, lastBlockPower, onBlock.
   */
  readonly loudness = new LoudnessIntegrator();

  // K-weighting: shelf (s*) then RLB high-pass (h*, numerator [1, -2, 1] written into the
  // loop), transposed direct form II.
  private readonly sb0: number;
  private readonly sb1: number;
  private readonly sb2: number;
  private readonly sa1: number;
  private readonly sa2: number;
  private readonly ha1: number;
  private readonly ha2: number;
  private s1 = 0;
  private s2 = 0;
  private h1 = 0;
  private h2 = 0;

  /** K-weighted squared samples of the last 400 ms (Float64 so the running sum subtracts exactly what it added). */
  private readonly ring: Float64Array;
  private write = 0;
  /** Running sum of the ring: + each new square, − the square it overwrites. */
  private ringSum = 0;
  /**
   * Plain sum of the squares written since the write index last wrapped. At the wrap it is
   * the sum of the whole ring, and replaces ringSum, so rounding in the running sum can
   * never outlive 400 ms (and no rarely-run loop sits in the hot function to deoptimize it).
   */
  private freshSum = 0;
  /** Samples seen since reset, capped at the window length. */
  private filled = 0;
  /** Samples per 100 ms step, and the open step's samples and sum of K-weighted squares. */
  private readonly stepLength: number;
  private stepFilled = 0;
  private stepSum = 0;
  private readonly truePeak: TruePeakMeter;

  constructor(sampleRate: number) {
    // The K-weighting shelf sits at 1.68 kHz: below 8 kHz sampling it is past Nyquist.
    if (!(sampleRate >= 8000 && sampleRate <= 384000)) {
      throw new RangeError(`sampleRate must be 8000..384000 Hz, got ${sampleRate}`);
    }
    const s = kWeightingShelfCoefficients(sampleRate);
    const h = kWeightingHighpassCoefficients(sampleRate);
    this.sb0 = s.b0;
    this.sb1 = s.b1;
    this.sb2 = s.b2;
    this.sa1 = s.a1;
    this.sa2 = s.a2;
    this.ha1 = h.a1;
    this.ha2 = h.a2;
    this.ring = new Float64Array(Math.round((sampleRate * MOMENTARY_WINDOW_MS) / 1000));
    this.stepLength = Math.round((sampleRate * STEP_MS) / 1000);
    this.truePeak = new TruePeakMeter(sampleRate);
  }

  reset(): void {
    this.s1 = this.s2 = this.h1 = this.h2 = 0;
    this.ring.fill(0);
    this.write = 0;
    this.ringSum = 0;
    this.freshSum = 0;
    this.filled = 0;
    this.stepFilled = 0;
    this.stepSum = 0;
    this.loudness.reset();
    this.truePeak.reset();
    this.rmsDbfs = this.peakDbfs = this.momentaryLufs = this.shortTermLufs = this.truePeakDbtp = DB_FLOOR;
    this.clippingRatio = this.dcOffset = 0;
  }

  /** Measures x[0..length) and updates the fields (and the integrator at each completed 100 ms step). x is not modified. */
  process(x: Float32Array, length: number): void {
    if (!(length >= 0 && length <= x.length)) {
      throw new RangeError(`length must be 0..${x.length}, got ${length}`);
    }
    const sb0 = this.sb0, sb1 = this.sb1, sb2 = this.sb2, sa1 = this.sa1, sa2 = this.sa2;
    const ha1 = this.ha1, ha2 = this.ha2;
    let s1 = this.s1, s2 = this.s2, h1 = this.h1, h2 = this.h2;
    const ring = this.ring;
    const n = ring.length;
    let w = this.write;
    let ringSum = this.ringSum;
    let freshSum = this.freshSum;
    let sum = 0, sumSq = 0, peak = 0, clipped = 0;
    let stepFilled = this.stepFilled;
    let stepSum = this.stepSum;
    const stepLength = this.stepLength;

    // Segments end at the block's end or at a 100 ms step boundary, whichever comes first.
    let i = 0;
    while (i < length) {
      const end = length - i < stepLength - stepFilled ? length : i + (stepLength - stepFilled);
      stepFilled += end - i;
      for (; i < end; i++) {
        const v = x[i];
        sum += v;
        sumSq += v * v;
        const a = Math.abs(v); // not a ternary: a branch on the sign of audio mispredicts half the time
        if (a > peak) peak = a;
        clipped += a >= CLIP_THRESHOLD ? 1 : 0;

        // Stage 1, high shelf; then stage 2, RLB high-pass with numerator [1, -2, 1]. The
        // feedback term is added last so the loop-carried chain is one add, one multiply and
        // one subtract per stage (the loop is latency-bound, not throughput-bound).
        const u = sb0 * v + s1;
        s1 = sb1 * v + s2 - sa1 * u;
        s2 = sb2 * v - sa2 * u;
        const k = u + h1;
        h1 = h2 - 2 * u - ha1 * k;
        h2 = u - ha2 * k;

        const k2 = k * k;
        stepSum += k2;
        ringSum += k2 - ring[w];
        freshSum += k2;
        ring[w] = k2;
        if (++w === n) {
          w = 0;
          ringSum = freshSum;
          freshSum = 0;
        }
      }
      if (stepFilled === stepLength) {
        this.loudness.addStep(stepSum, stepLength);
        stepFilled = 0;
        stepSum = 0;
      }
    }
    this.stepFilled = stepFilled;
    this.stepSum = stepSum;

    this.s1 = s1 > STATE_FLUSH || s1 < -STATE_FLUSH ? s1 : 0;
    this.s2 = s2 > STATE_FLUSH || s2 < -STATE_FLUSH ? s2 : 0;
    this.h1 = h1 > STATE_FLUSH || h1 < -STATE_FLUSH ? h1 : 0;
    this.h2 = h2 > STATE_FLUSH || h2 < -STATE_FLUSH ? h2 : 0;
    this.write = w;
    this.ringSum = ringSum;
    this.freshSum = freshSum;
    const filled = this.filled + length;
    this.filled = filled < n ? filled : n;

    // An empty block reads as silence (all sums are 0); no branch for it, so a rare empty
    // block cannot deoptimize this function.
    const count = length > 0 ? length : 1;
    // The dB conversions are constants.ts's powerToDb and ampToDb written out with Math.max:
    // their `x > DB_FLOOR ? x : DB_FLOOR` joins a double with a constant read from another
    // module, which V8 keeps as a tagged value, so every reading was a boxed number (a heap
    // allocation per block). Same values: log10(0) is -Infinity, floored.
    const meanSquare = sumSq / count;
    this.rmsDbfs = Math.max(10 * Math.log10(meanSquare > POWER_FLOOR ? meanSquare : 0), DB_FLOOR);
    this.peakDbfs = Math.max(20 * Math.log10(peak > AMP_FLOOR ? peak : 0), DB_FLOOR);
    this.clippingRatio = clipped / count;
    this.dcOffset = sum / count;
    const windowPower = ringSum / (this.filled > 0 ? this.filled : 1);
    this.momentaryLufs = Math.max(LOUDNESS_OFFSET_LU + 10 * Math.log10(windowPower > POWER_FLOOR ? windowPower : 0), DB_FLOOR);
    this.shortTermLufs = this.loudness.shortTermLufs;
    this.truePeak.process(x, length);
    const truePeak = this.truePeak.blockPeak;
    this.truePeakDbtp = Math.max(20 * Math.log10(truePeak > AMP_FLOOR ? truePeak : 0), DB_FLOOR);
  }
}
