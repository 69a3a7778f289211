/**
 * True-peak meter of one channel, ITU-R BS.1770-4 Annex 2: the signal is oversampled (4x
 * below 96 kHz, 2x below 192 kHz, not at all from 192 kHz, so the measuring rate is always
 * at least 192 kHz) with the Annex's 48-tap interpolation filter, and the largest absolute
 * value is the true peak.
 *
 * The filter is used in its polyphase form: at 4x, phase p (0..3) computes one point
 * between two samples from the 12 newest. The filter is symmetric about tap 23.5, so its
 * delay is 5.875 input periods and the four points fall 1/8, 3/8, 5/8 and 7/8 of the way
 * between samples, never on one: the sample values themselves are counted as well, and a
 * true peak never reads below the sample peak.
 * Phase 3 is phase 0 reversed and phase 2 is phase 1 reversed, so a pair of mirrored
 * phases is computed as the sum and difference of two 6-tap symmetric filters over the
 * sums and differences of mirrored samples (the larger of |y0| and |y3| is
 * (|y0 + y3| + |y0 − y3|) / 2): 24 multiplies per input sample for all four phases, not 48.
 *
 * At 4x most of those points are not computed, because they cannot be the peak. A point is
 * bounded by the samples it is made of: |y| = |Σ h_k·x_{n−k}| ≤ Σ|h_k| · max|x_{n−k}|, where
 * Σ|h_k| is 1.434 for phases 0 and 3 and 2.023 for phases 1 and 2. Each block is cut into
 * runs of 16 samples; a run's points read only its own samples and the 11 before it, so a
 * run is skipped when the largest |x| of it and the run before, times that gain, cannot
 * exceed the peak found so far, and computes only phases 1 and 2 when only they could. The
 * run with the loudest samples goes first, which usually finds the block's true peak at
 * once. Speech (pauses, pitch pulses that decay within the period, syllables 10-20 dB apart
 * in a 20 ms block) skips most runs; a dense full-band signal computes nearly all of them.
 * Only points that cannot raise the maximum are left out, and those computed use the same
 * arithmetic as computing them all, so the readings are that computation's, bit for bit.
 */

import { ampToDb } from './constants.ts';

/**
 * BS.1770-4 Annex 2, Table 1 (the 48 coefficients of the order-48 interpolating FIR,
 * every fourth one per phase), phases 0 and 1; phases 3 and 2 are these reversed.
 * Index k multiplies the sample k periods before the newest.
 */
export const TRUE_PEAK_PHASE_0: readonly number[] = [
  0.001708984375, 0.010986328125, -0.0196533203125, 0.033203125, -0.0594482421875, 0.1373291015625,
  0.97216796875, -0.102294921875, 0.047607421875, -0.026611328125, 0.014892578125, -0.00830078125,
];
export const TRUE_PEAK_PHASE_1: readonly number[] = [
  -0.0291748046875, 0.029296875, -0.0517578125, 0.089111328125, -0.16650390625, 0.465087890625,
  0.77978515625, -0.2003173828125, 0.1015625, -0.0582275390625, 0.0330810546875, -0.0189208984375,
];

const P0 = TRUE_PEAK_PHASE_0;
const P1 = TRUE_PEAK_PHASE_1;
/**
 * Symmetric and antisymmetric halves of each mirrored pair of phases, tap k against tap
 * 11 − k: [P0 sums, P0 differences, P1 sums, P1 differences], 6 each. process4 copies them
 * into locals (module-level constants would be reloaded and hole-checked on every use).
 */
const HALVES = new Float64Array(24);
for (let k = 0; k < 6; k++) {
  HALVES[k] = P0[k] + P0[11 - k];
  HALVES[6 + k] = P0[k] - P0[11 - k];
  HALVES[12 + k] = P1[k] + P1[11 - k];
  HALVES[18 + k] = P1[k] - P1[11 - k];
}

/**
 * The most a mirrored pair of phases can read in process4 (twice the larger of the two), per
 * unit of the largest |sample| in its window: 2·Σ|h_k| (both sums exact in binary), times
 * 1 + 2^-30 for rounding. As computed, a pair can read up to about 15 units in the last
 * place of the bound above its exact value (one rounding in each mirrored sum, each product
 * and each of 5 additions, on both filters, then the final sum), and a run's peak as
 * loadRuns takes it up to 18 units below the true one: the margin (2^23 units) covers both,
 * so a point the bound rules out cannot read above it even by rounding.
 */
const ROUNDING_MARGIN = 1 + 2 ** -30;
const BOUND_03 = 2 * P0.reduce((sum, h) => sum + Math.abs(h), 0) * ROUNDING_MARGIN;
const BOUND_12 = 2 * P1.reduce((sum, h) => sum + Math.abs(h), 0) * ROUNDING_MARGIN;

/** Samples of history the filter needs besides the newest. */
const HISTORY = 11;
/**
 * Samples per screened run: at least HISTORY, so that a run's points read only it and the
 * run before; short enough that the quiet end of a pitch period is a run of its own (16 ran
 * fastest on speech of 12, 16, 24 and 32).
 */
const RUN = 16;
/** Samples measured per pass over the work buffer (any block length is cut into chunks of this). */
const CHUNK = 1024;

export class TruePeakMeter {
  /** Linear true peak of the last block (0 for an empty block). */
  blockPeak = 0;
  /** Linear true peak since start/reset. */
  maxPeak = 0;

  /** 4, 2 or 1. */
  readonly oversampling: number;
  /** The 11 samples before the current chunk (oldest first), then the chunk. */
  private readonly work = new Float64Array(HISTORY + CHUNK);
  /** At 4x, largest |sample| of the 11 before the chunk ([0]) and of each run of the chunk ([1 + r], as loadRuns takes it). */
  private readonly runPeaks = new Float64Array(1 + Math.ceil(CHUNK / RUN));

  /** `sampleRate` in Hz, 8000..384000. */
  constructor(sampleRate: number) {
    if (!(sampleRate >= 8000 && sampleRate <= 384000)) {
      throw new RangeError(`sampleRate must be 8000..384000 Hz, got ${sampleRate}`);
    }
    this.oversampling = sampleRate >= 192000 ? 1 : sampleRate >= 96000 ? 2 : 4;
  }

  /** Linear true peak of the last block, dBTP (20·log10), floored at DB_FLOOR. */
  get blockPeakDbtp(): number {
    return ampToDb(this.blockPeak);
  }

  /** Linear true peak since start/reset, dBTP, floored at DB_FLOOR. */
  get maxPeakDbtp(): number {
    return ampToDb(this.maxPeak);
  }

  reset(): void {
    this.work.fill(0);
    this.blockPeak = this.maxPeak = 0;
  }

  /** Measures x[0..length); sets blockPeak and raises maxPeak. x is not modified. */
  process(x: Float32Array, length: number): void {
    if (!(length >= 0 && length <= x.length)) {
      throw new RangeError(`length must be 0..${x.length}, got ${length}`);
    }
    // The helpers store blockPeak rather than return it: a double returned from a call that
    // is not inlined is boxed, an allocation per block.
    if (this.oversampling === 4) this.process4(x, length);
    else if (this.oversampling === 2) this.process2(x, length);
    else this.process1(x, length);
    if (this.blockPeak > this.maxPeak) this.maxPeak = this.blockPeak;
  }

  /**
   * Copies x[from, from + n) into the work buffer after the history and stores each run's
   * largest |sample| in runPeaks[1 + r]; returns the loudest run. The maximum is taken as
   * max(m, a) = (m + a + |m − a|) / 2, which has no branch to mispredict on a dense signal
   * (a compare-and-branch maximum cost 2-3 times as much on noise). Rounded, each step keeps at
   * least max(m, a)·(1 − 2^-52), so a run's peak reads at most 18 units in the last place low,
   * which the bounds' margin covers; a NaN sample makes its run's peak NaN, which is never
   * skipped.
   */
  private loadRuns(x: Float32Array, from: number, n: number): number {
    const w = this.work;
    const peaks = this.runPeaks;
    const offset = HISTORY - from;
    let loudest = 0;
    let loudestPeak = 0;
    for (let r = 0, start = from, last = from + n; start < last; r++, start += RUN) {
      const end = start + RUN < last ? start + RUN : last;
      // Two interleaved maxima (even and odd samples), so that one's chain of additions
      // does not wait for the other's.
      let m0 = 0;
      let m1 = 0;
      let i = start;
      for (; i + 1 < end; i += 2) {
        const v0 = x[i];
        const v1 = x[i + 1];
        w[offset + i] = v0;
        w[offset + i + 1] = v1;
        const a0 = Math.abs(v0);
        const a1 = Math.abs(v1);
        m0 = 0.5 * (m0 + a0 + Math.abs(m0 - a0));
        m1 = 0.5 * (m1 + a1 + Math.abs(m1 - a1));
      }
      if (i < end) {
        const v0 = x[i];
        w[offset + i] = v0;
        const a0 = Math.abs(v0);
        m0 = 0.5 * (m0 + a0 + Math.abs(m0 - a0));
      }
      const peak = 0.5 * (m0 + m1 + Math.abs(m0 - m1));
      peaks[r + 1] = peak;
      if (peak > loudestPeak) {
        loudestPeak = peak;
        loudest = r;
      }
    }
    return loudest;
  }

  /**
   * 4x: all four phases, from the sums s and differences d of mirrored samples, in the runs
   * where the bound says they could raise the peak.
   */
  private process4(x: Float32Array, length: number): void {
    const w = this.work;
    const peaks = this.runPeaks;
    const c = HALVES;
    const A0 = c[0], A1 = c[1], A2 = c[2], A3 = c[3], A4 = c[4], A5 = c[5];
    const D0 = c[6], D1 = c[7], D2 = c[8], D3 = c[9], D4 = c[10], D5 = c[11];
    const B0 = c[12], B1 = c[13], B2 = c[14], B3 = c[15], B4 = c[16], B5 = c[17];
    const E0 = c[18], E1 = c[19], E2 = c[20], E3 = c[21], E4 = c[22], E5 = c[23];
    const bound03 = BOUND_03;
    const bound12 = BOUND_12;
    // Twice the peak: (|sum| + |difference|) of a mirrored pair is twice the larger of the two
    // phases. The samples count too (2·|x|), in the runs where all four phases are computed:
    // elsewhere they cannot raise it either, as 2·|x| ≤ 2·m < m·bound03 ≤ peak2.
    let peak2 = 0;
    for (let from = 0; from < length; from += CHUNK) {
      const n = length - from < CHUNK ? length - from : CHUNK;
      let history = 0;
      for (let i = 0; i < HISTORY; i++) {
        const a = Math.abs(w[i]);
        if (a > history) history = a;
      }
      peaks[0] = history;
      // w[0..11) holds the 11 samples before the chunk; w[11 + i] is x[from + i]. An indexed
      // window reads faster than 11 samples shifted through locals (they spill).
      const loudest = this.loadRuns(x, from, n);
      const runs = ((n + RUN - 1) / RUN) | 0;
      // The loudest run first (k = -1), then the others in order.
      for (let k = -1; k < runs; k++) {
        if (k === loudest) continue;
        const r = k < 0 ? loudest : k;
        // Run r's points read its own samples and the 11 before: run r − 1's, or the history.
        // Math.max keeps a NaN, so a run beside one is never skipped.
        const before = peaks[r];
        const own = peaks[r + 1];
        const m = Math.max(own, before);
        // <=: a point that can at most equal the peak does not change it.
        if (m * bound12 <= peak2) continue;
        const start = r * RUN;
        const end = start + RUN < n ? start + RUN : n;
        if (m * bound03 <= peak2) {
          for (let i = start; i < end; i++) {
            const x0 = w[i + 11];
            const s0 = x0 + w[i], s1 = w[i + 10] + w[i + 1], s2 = w[i + 9] + w[i + 2];
            const s3 = w[i + 8] + w[i + 3], s4 = w[i + 7] + w[i + 4], s5 = w[i + 6] + w[i + 5];
            const d0 = x0 - w[i], d1 = w[i + 10] - w[i + 1], d2 = w[i + 9] - w[i + 2];
            const d3 = w[i + 8] - w[i + 3], d4 = w[i + 7] - w[i + 4], d5 = w[i + 6] - w[i + 5];
            const p12 =
              Math.abs(B0 * s0 + B1 * s1 + B2 * s2 + B3 * s3 + B4 * s4 + B5 * s5) +
              Math.abs(E0 * d0 + E1 * d1 + E2 * d2 + E3 * d3 + E4 * d4 + E5 * d5);
            if (p12 > peak2) peak2 = p12;
          }
          continue;
        }
        for (let i = start; i < end; i++) {
          const x0 = w[i + 11];
          const s0 = x0 + w[i], s1 = w[i + 10] + w[i + 1], s2 = w[i + 9] + w[i + 2];
          const s3 = w[i + 8] + w[i + 3], s4 = w[i + 7] + w[i + 4], s5 = w[i + 6] + w[i + 5];
          const d0 = x0 - w[i], d1 = w[i + 10] - w[i + 1], d2 = w[i + 9] - w[i + 2];
          const d3 = w[i + 8] - w[i + 3], d4 = w[i + 7] - w[i + 4], d5 = w[i + 6] - w[i + 5];
          const p03 =
            Math.abs(A0 * s0 + A1 * s1 + A2 * s2 + A3 * s3 + A4 * s4 + A5 * s5) +
            Math.abs(D0 * d0 + D1 * d1 + D2 * d2 + D3 * d3 + D4 * d4 + D5 * d5);
          const p12 =
            Math.abs(B0 * s0 + B1 * s1 + B2 * s2 + B3 * s3 + B4 * s4 + B5 * s5) +
            Math.abs(E0 * d0 + E1 * d1 + E2 * d2 + E3 * d3 + E4 * d4 + E5 * d5);
          // Rarely taken once the block's peak is found, so well predicted.
          if (p03 > peak2) peak2 = p03;
          if (p12 > peak2) peak2 = p12;
          const a = 2 * Math.abs(x0);
          if (a > peak2) peak2 = a;
        }
      }
      w.copyWithin(0, n, n + HISTORY);
    }
    this.blockPeak = 0.5 * peak2;
  }

  /** 2x (96 kHz up to 192 kHz): phases 0 and 2 of the same filter, points half a sample period apart. */
  private process2(x: Float32Array, length: number): void {
    const w = this.work;
    let peak = 0;
    for (let from = 0; from < length; from += CHUNK) {
      const n = length - from < CHUNK ? length - from : CHUNK;
      for (let i = 0; i < n; i++) w[HISTORY + i] = x[from + i];
      for (let i = 0; i < n; i++) {
        let y0 = 0;
        let y2 = 0;
        for (let k = 0; k <= HISTORY; k++) {
          const v = w[i + HISTORY - k];
          y0 += P0[k] * v;
          y2 += P1[HISTORY - k] * v;
        }
        const m = Math.max(Math.abs(y0), Math.abs(y2), Math.abs(w[i + HISTORY]));
        if (m > peak) peak = m;
      }
      w.copyWithin(0, n, n + HISTORY);
    }
    this.blockPeak = peak;
  }

  /** 1x (192 kHz and above): the samples are already as dense as the Annex's oversampled signal. */
  private process1(x: Float32Array, length: number): void {
    let peak = 0;
    for (let i = 0; i < length; i++) {
      const a = Math.abs(x[i]);
      if (a > peak) peak = a;
    }
    this.blockPeak = peak;
  }
}
