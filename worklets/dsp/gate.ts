/**
 * Noise gate: passes the signal while its peak envelope is above the threshold and
 * attenuates it by CLOSED_DB otherwise.
 *
 * Detector: a peak-hold envelope, the largest |x| of the last HOLD_MS. The gate is open
 * while that envelope is above the threshold, so it stays open through the zero crossings of
 * anything above 10 Hz and through the short pauses between words, and a closing never
 * chops the tail of a syllable sooner than HOLD_MS after its last peak.
 * Gain: moves linearly in dB (a constant factor per sample), from CLOSED_DB to 0 dB in
 * ATTACK_MS when opening and from 0 dB to CLOSED_DB in RELEASE_MS when closing; at 0 dB the
 * factor is exactly 1, so an open gate is bit-transparent.
 */

import { dbToAmp } from './constants.ts';

/** Time to open fully, ms: short enough to keep plosives, long enough not to click. */
export const GATE_ATTACK_MS = 1;
/** Time the gate stays open after the last peak above threshold, ms. */
export const GATE_HOLD_MS = 50;
/** Time to close fully, ms. */
export const GATE_RELEASE_MS = 100;
/** Gain of the closed gate, dB: deep enough to remove hiss, short of muting the line. */
export const GATE_CLOSED_DB = -80;
/** Threshold after construction, dBFS (the `gate.threshold_dbfs` knob default). */
export const DEFAULT_GATE_THRESHOLD_DBFS = -60;

export class NoiseGate {
  private readonly holdSamples: number;
  private readonly closedGain: number;
  /** Per-sample gain factors: +80 dB over the attack, -80 dB over the release. */
  private readonly openStep: number;
  private readonly closeStep: number;
  private thresholdAmp = 0;
  private gain = 0;
  private holdLeft = 0;

  constructor(sampleRate: number) {
    if (!(sampleRate > 0)) throw new RangeError(`sampleRate must be positive, got ${sampleRate}`);
    this.holdSamples = Math.round((GATE_HOLD_MS / 1000) * sampleRate);
    this.closedGain = dbToAmp(GATE_CLOSED_DB);
    this.openStep = dbToAmp(-GATE_CLOSED_DB / Math.max(1, (GATE_ATTACK_MS / 1000) * sampleRate));
    this.closeStep = dbToAmp(GATE_CLOSED_DB / Math.max(1, (GATE_RELEASE_MS / 1000) * sampleRate));
    this.set(DEFAULT_GATE_THRESHOLD_DBFS);
    this.reset();
  }

  /** Threshold, dBFS of sample peak: the gate opens when |x| rises above it. */
  set(thresholdDbfs: number): void {
    if (Number.isNaN(thresholdDbfs)) throw new RangeError('thresholdDbfs must be a number');
    this.thresholdAmp = dbToAmp(thresholdDbfs);
  }

  /** Back to closed, with no hold pending. */
  reset(): void {
    this.gain = this.closedGain;
    this.holdLeft = 0;
  }

  process(buf: Float32Array, length: number): void {
    const thr = this.thresholdAmp, holdSamples = this.holdSamples;
    const closed = this.closedGain, up = this.openStep, down = this.closeStep;
    let g = this.gain, hold = this.holdLeft;
    for (let i = 0; i < length; i++) {
      const x = buf[i];
      // Math.abs, not a sign test: a branch on the sign of audio mispredicts half the time.
      if (Math.abs(x) > thr) hold = holdSamples;
      else if (hold > 0) hold--;
      if (hold > 0) {
        if (g < 1) {
          g *= up;
          if (g > 1) g = 1;
        }
      } else if (g > closed) {
        g *= down;
        if (g < closed) g = closed;
      }
      buf[i] = x * g;
    }
    this.gain = g;
    this.holdLeft = hold;
  }
}
