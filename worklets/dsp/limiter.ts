/**
 * Peak limiter without look-ahead: output samples never exceed the threshold amplitude.
 *
 * Attack is instantaneous (the gain drops on the very sample that would exceed the
 * threshold, to exactly threshold/|x|), release recovers the gain towards unity
 * exponentially with LIMITER_RELEASE_MS as time constant. With no look-ahead the gain
 * cannot duck ahead of a transient: on its first sample the limiter acts like a hard clip
 * (some distortion on fast peaks), the price of adding no latency to a live path.
 * Below the threshold with the gain recovered, samples pass bit for bit (gain exactly 1).
 */

import { dbToAmp } from './constants.ts';

/** Release time constant, ms: recovers 63 % of the reduction in 50 ms, 99 % in 230 ms. */
export const LIMITER_RELEASE_MS = 50;
/** Threshold after construction, dBFS (the `limiter.threshold_dbfs` knob default). */
export const DEFAULT_LIMITER_THRESHOLD_DBFS = -1;

/** The largest float32 value that is <= x (x > 0), so a ceiling stored as float32 never rounds up. */
function float32AtMost(x: number): number {
  const f = Math.fround(x);
  if (f <= x) return f;
  const bits = new Float32Array([f]);
  new Uint32Array(bits.buffer)[0] -= 1;
  return bits[0];
}

export class PeakLimiter {
  private readonly releaseCoef: number;
  /** Threshold amplitude as a float32 value, rounded down: the exact output ceiling. */
  private ceiling = 1;
  private gain = 1;

  constructor(sampleRate: number) {
    if (!(sampleRate > 0)) throw new RangeError(`sampleRate must be positive, got ${sampleRate}`);
    this.releaseCoef = Math.exp(-1000 / (LIMITER_RELEASE_MS * sampleRate));
    this.set(DEFAULT_LIMITER_THRESHOLD_DBFS);
  }

  /** Output ceiling, dBFS of sample peak. Every output sample satisfies |y| <= dbToAmp(thresholdDbfs). */
  set(thresholdDbfs: number): void {
    if (!Number.isFinite(thresholdDbfs)) throw new RangeError(`thresholdDbfs must be finite, got ${thresholdDbfs}`);
    this.ceiling = float32AtMost(dbToAmp(thresholdDbfs));
  }

  reset(): void {
    this.gain = 1;
  }

  process(buf: Float32Array, length: number): void {
    const ceiling = this.ceiling, negCeiling = -ceiling, aR = this.releaseCoef;
    let g = this.gain;
    for (let i = 0; i < length; i++) {
      // 1 − (1 − g)·αR: reaches exactly 1.0 once the remaining reduction drops below 2⁻⁵³.
      g = 1 - (1 - g) * aR;
      const x = buf[i];
      const a = Math.abs(x);
      if (a * g > ceiling) {
        g = ceiling / a;
        buf[i] = x < 0 ? negCeiling : ceiling;
      } else {
        // a·g <= ceiling and ceiling is a float32 value, so rounding to float32 cannot exceed it.
        buf[i] = x * g;
      }
    }
    this.gain = g;
  }
}
