/**
 * Feed-forward compressor after Giannoulis, Massberg & Reiss, "Digital Dynamic Range
 * Compressor Design — A Tutorial and Analysis", JAES 60(6), 2012 (hereafter GMR).
 *
 * Per sample, in dB:
 *   xG = 20·log10|x|                      level of the sample (instantaneous peak)
 *   yG = static curve of xG (GMR eq. 4)    threshold T, ratio R, soft knee of KNEE_DB
 *   xL = xG − yG                           wanted gain reduction, >= 0
 *   yL = smooth decoupled peak detector on xL (GMR eq. 19):
 *          y1 = max(xL, αR·y1 + (1−αR)·xL);  yL = αA·yL + (1−αA)·y1
 *   gain = makeup − yL
 * Detecting in the log domain after the gain computer gives attack and release that do not
 * depend on the level (GMR §3.3). The decoupled detector holds the peaks of a waveform with
 * the release time and smooths that with the attack time, so a steady tone settles on the
 * static curve at its peak level (within 0.1 dB for speech-band tones) instead of riding
 * its average: the peak-sensitive behaviour speech needs, where a syllable's onset matters
 * more than its mean.
 * Time constants are GMR's α = exp(−1/(τ·fs)): τ is the time to 63 % of a step (10 %–90 %
 * takes 2.2·τ).
 * Cost: below the knee and with no reduction pending, no transcendental function runs;
 * otherwise one table log2 and one table exp2 per sample (fastmath.ts, 2e-5 dB accurate),
 * about a third of the cost of Math.log and Math.exp.
 */

import { dbToAmp } from './constants.ts';
import { exp2Fast, log2Fast } from './fastmath.ts';

export interface CompressorParams {
  /** Level where compression starts (centre of the knee), dBFS of sample peak. */
  thresholdDbfs: number;
  /** Input dB over threshold per output dB over threshold, >= 1. */
  ratio: number;
  /** Attack time constant, ms (> 0). */
  attackMs: number;
  /** Release time constant, ms (> 0). */
  releaseMs: number;
  /** Gain after compression, dB. */
  makeupDb: number;
}

/**
 * Width of the quadratic soft knee, dB (GMR eq. 4): the curve bends from T − 3 to T + 3 dB,
 * so a level right at the threshold is already reduced by (1 − 1/R)·KNEE_DB/8 (0.56 dB at
 * 4:1). Small enough that tests off the knee see the hard-knee curve exactly.
 */
export const KNEE_DB = 6;

/** Parameters after construction: the `compressor.*` knob defaults. */
export const DEFAULT_COMPRESSOR: Readonly<CompressorParams> = {
  thresholdDbfs: -24,
  ratio: 4,
  attackMs: 10,
  releaseMs: 200,
  makeupDb: 0,
};

/** dB per octave of amplitude (20·log10 2) and its inverse, for the table-driven log2/exp2. */
const DB_PER_LOG2 = 20 * Math.log10(2);
const LOG2_PER_DB = 1 / DB_PER_LOG2;
/** Gain reduction below which the detector counts as idle, dB (no exp per sample then). */
const IDLE_DB = 1e-6;
/** Detector state below which it is flushed to zero at block end, dB (avoids subnormals). */
const FLUSH_DB = 1e-9;

export class Compressor {
  private readonly sampleRate: number;
  private threshold = 0;
  private slope = 0;
  /** Amplitude of T − KNEE/2: below it xL is 0 and no log is taken. */
  private kneeStartAmp = 0;
  private attackCoef = 0;
  private releaseCoef = 0;
  private makeupDb = 0;
  private makeupAmp = 1;
  private y1 = 0;
  private yL = 0;

  constructor(sampleRate: number) {
    if (!(sampleRate > 0)) throw new RangeError(`sampleRate must be positive, got ${sampleRate}`);
    this.sampleRate = sampleRate;
    this.set(DEFAULT_COMPRESSOR);
  }

  set(p: CompressorParams): void {
    if (!Number.isFinite(p.thresholdDbfs)) throw new RangeError(`thresholdDbfs must be finite, got ${p.thresholdDbfs}`);
    if (!(p.ratio >= 1)) throw new RangeError(`ratio must be >= 1, got ${p.ratio}`);
    if (!(p.attackMs > 0) || !(p.releaseMs > 0)) {
      throw new RangeError(`attackMs and releaseMs must be > 0, got ${p.attackMs} and ${p.releaseMs}`);
    }
    if (!Number.isFinite(p.makeupDb)) throw new RangeError(`makeupDb must be finite, got ${p.makeupDb}`);
    this.threshold = p.thresholdDbfs;
    this.slope = 1 - 1 / p.ratio;
    this.kneeStartAmp = dbToAmp(p.thresholdDbfs - KNEE_DB / 2);
    this.attackCoef = Math.exp(-1000 / (p.attackMs * this.sampleRate));
    this.releaseCoef = Math.exp(-1000 / (p.releaseMs * this.sampleRate));
    this.makeupDb = p.makeupDb;
    this.makeupAmp = p.makeupDb === 0 ? 1 : dbToAmp(p.makeupDb);
  }

  /** No gain reduction in progress. */
  reset(): void {
    this.y1 = 0;
    this.yL = 0;
  }

  /** Current smoothed gain reduction, dB (>= 0), for meters and tests. */
  get gainReductionDb(): number {
    return this.yL;
  }

  process(buf: Float32Array, length: number): void {
    const t = this.threshold, slope = this.slope, kneeStart = this.kneeStartAmp;
    const halfKnee = KNEE_DB / 2, inv2Knee = 1 / (2 * KNEE_DB);
    const aA = this.attackCoef, bA = 1 - aA, aR = this.releaseCoef, bR = 1 - aR;
    const makeupDb = this.makeupDb, makeupAmp = this.makeupAmp;
    let y1 = this.y1, yL = this.yL;
    for (let i = 0; i < length; i++) {
      const x = buf[i];
      const a = Math.abs(x);
      let xL = 0;
      if (a > kneeStart) {
        const over = DB_PER_LOG2 * log2Fast(a) - t;
        if (over >= halfKnee) xL = slope * over;
        else if (over > -halfKnee) {
          const k = over + halfKnee;
          xL = slope * k * k * inv2Knee;
        }
      }
      const released = aR * y1 + bR * xL;
      y1 = xL > released ? xL : released;
      yL = aA * yL + bA * y1;
      buf[i] = yL > IDLE_DB ? x * exp2Fast((makeupDb - yL) * LOG2_PER_DB) : x * makeupAmp;
    }
    this.y1 = y1 > FLUSH_DB ? y1 : 0;
    this.yL = yL > FLUSH_DB ? yL : 0;
  }
}
