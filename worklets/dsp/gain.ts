/**
 * Static gain. Deliberately unsmoothed: a knob change scheduled for bucket T must apply from
 * the first sample of T exactly (ARCHITECTURE.md "Time"), and the ramp a smoother would
 * insert would leak the old value into the new bucket's measurements.
 */

import { dbToAmp } from './constants.ts';

export class Gain {
  private amp = 1;

  /** @param db initial gain, dB (default 0: unity). */
  constructor(db = 0) {
    this.setDb(db);
  }

  /** Gain in dB; 0 dB is exactly unity (samples pass bit for bit). */
  setDb(db: number): void {
    if (!Number.isFinite(db)) throw new RangeError(`gain must be a finite number of dB, got ${db}`);
    this.amp = db === 0 ? 1 : dbToAmp(db);
  }

  /** Linear factor currently applied. */
  get linear(): number {
    return this.amp;
  }

  process(buf: Float32Array, length: number): void {
    const g = this.amp;
    if (g === 1) return;
    for (let i = 0; i < length; i++) buf[i] *= g;
  }
}
