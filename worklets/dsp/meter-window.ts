/**
 * Block meters of one tap aggregated over a publication window: the capture worklet's
 * ~20 ms reading and the relay's telemetry interval (seed 003) both fold FrameMeter's
 * per-block values into one reading here, so a window reads the same in both places.
 *
 * Over the window: RMS is the energy mean (each block's mean square weighted by its
 * length), peak the largest block peak, the clipping ratio the share of clipped samples,
 * the momentary and short-term loudness the latest block's (they are already 400 ms and
 * 3 s windows, BS.1770-4 and EBU Tech 3341), and the true peak the largest block true peak
 * (BS.1770-4 Annex 2). Integrated loudness and loudness range are not windowed: readers
 * take them from the meter's LoudnessIntegrator when they publish.
 * Scalars only: nothing to allocate, and `add` allocates nothing.
 */

import { ampToDb, DB_FLOOR, powerToDb } from './constants.ts';

export class MeterWindow {
  /** RMS over the last ended window, dBFS, floored at DB_FLOOR. */
  rmsDbfs = DB_FLOOR;
  /** Largest sample peak over the last ended window, dBFS, floored at DB_FLOOR. */
  peakDbfs = DB_FLOOR;
  /** Share (0..1) of the last ended window's samples with |x| >= CLIP_THRESHOLD. */
  clippingRatio = 0;
  /** Samples of the last ended window with |x| >= CLIP_THRESHOLD. */
  clippedSamples = 0;
  /** Momentary loudness at the end of the last ended window, LUFS. */
  momentaryLufs = DB_FLOOR;
  /** Short-term loudness at the end of the last ended window, LUFS. */
  shortTermLufs = DB_FLOOR;
  /** Largest block true peak over the last ended window, dBTP, floored at DB_FLOOR. */
  truePeakDbtp = DB_FLOOR;
  /**
   * Samples in the last ended window. 0 when it was empty: the values above then still
   * hold the last non-empty window's, so a display does not flicker to silence when audio
   * arrives in bursts.
   */
  samples = 0;

  // The open window: Σ mean square · length, largest peak (linear), Σ clipped samples
  // (as clippingRatio · length, exact for FrameMeter's ratios), samples, latest momentary
  // and short-term loudness, largest true peak (dBTP: the max of dB values is the dB of the max).
  private energy = 0;
  private peak = 0;
  private clipped = 0;
  private count = 0;
  private lufs = DB_FLOOR;
  private shortTerm = DB_FLOOR;
  private truePeak = DB_FLOOR;

  /** Samples added to the open window so far. */
  get pendingSamples(): number {
    return this.count;
  }

  /**
   * Adds one block's meter values (FrameMeter's fields after `process(x, length)`):
   * `length` samples, RMS and peak in dBFS, clipping share 0..1, momentary and short-term
   * loudness in LUFS, the block's true peak in dBTP.
   */
  add(length: number, rmsDbfs: number, peakDbfs: number, clippingRatio: number, momentaryLufs: number, shortTermLufs: number, truePeakDbtp: number): void {
    if (!(length >= 0)) throw new RangeError(`length must be >= 0, got ${length}`);
    this.energy += 10 ** (rmsDbfs / 10) * length;
    const peak = 10 ** (peakDbfs / 20);
    if (peak > this.peak) this.peak = peak;
    this.clipped += clippingRatio * length;
    this.count += length;
    this.lufs = momentaryLufs;
    this.shortTerm = shortTermLufs;
    if (truePeakDbtp > this.truePeak) this.truePeak = truePeakDbtp;
  }

  /**
   * Ends the open window: the fields above then hold its values (or, if it was empty, still
   * the previous window's, with `samples` = 0), and a new window starts. Returns `samples`.
   */
  endWindow(): number {
    const n = this.count;
    if (n > 0) {
      this.rmsDbfs = powerToDb(this.energy / n);
      this.peakDbfs = ampToDb(this.peak);
      this.clippingRatio = this.clipped / n;
      this.clippedSamples = Math.round(this.clipped);
      this.momentaryLufs = this.lufs;
      this.shortTermLufs = this.shortTerm;
      this.truePeakDbtp = this.truePeak;
    }
    this.samples = n;
    this.energy = this.peak = this.clipped = this.count = 0;
    this.truePeak = DB_FLOOR;
    return n;
  }

  /** Back to the state of a new MeterWindow: no open window, every value at its floor. */
  reset(): void {
    this.energy = this.peak = this.clipped = this.count = 0;
    this.lufs = this.shortTerm = this.truePeak = DB_FLOOR;
    this.rmsDbfs = this.peakDbfs = this.momentaryLufs = this.shortTermLufs = this.truePeakDbtp = DB_FLOOR;
    this.clippingRatio = this.clippedSamples = this.samples = 0;
  }
}
