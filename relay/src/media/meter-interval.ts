/**
 * Meter values of one station over one telemetry publication interval (seed 003): per tap,
 * RMS (energy over the interval's frames), sample peak, clipping ratio and the latest
 * momentary loudness. Updated per frame without allocating; read and restarted at each
 * publication. An interval with no audio repeats the previous values, so a meter does not
 * flicker to silence when frames arrive in bursts.
 */
import { DB_FLOOR } from '../../../worklets/dsp/constants.ts';

/** Published fields per tap, in this order. */
export const TAP_FIELDS = ['rms_dbfs', 'peak_dbfs', 'clipping_ratio', 'momentary_lufs'] as const;

export class MeterInterval {
  // Per tap: energy (sum of mean-square x samples), samples, peak (linear), clipped samples, last LUFS.
  private readonly acc = new Float64Array(2 * 5);
  /** The last published values: [PRE rms, peak, clip, lufs, POST rms, peak, clip, lufs]. */
  readonly published = new Float64Array(8).fill(DB_FLOOR);

  constructor() {
    this.published[2] = 0;
    this.published[6] = 0;
  }

  add(tap: 0 | 1, length: number, rmsDbfs: number, peakDbfs: number, clippingRatio: number, momentaryLufs: number): void {
    const o = tap * 5;
    const a = this.acc;
    a[o] += 10 ** (rmsDbfs / 10) * length;
    a[o + 1] += length;
    const peak = 10 ** (peakDbfs / 20);
    if (peak > a[o + 2]) a[o + 2] = peak;
    a[o + 3] += clippingRatio * length;
    a[o + 4] = momentaryLufs;
  }

  /** Closes the interval: `published` then holds its values. */
  publish(): void {
    const a = this.acc;
    const p = this.published;
    for (let tap = 0; tap < 2; tap++) {
      const o = tap * 5;
      const n = a[o + 1];
      if (n > 0) {
        const ms = a[o] / n;
        p[tap * 4] = ms > 0 ? Math.max(DB_FLOOR, 10 * Math.log10(ms)) : DB_FLOOR;
        p[tap * 4 + 1] = a[o + 2] > 0 ? Math.max(DB_FLOOR, 20 * Math.log10(a[o + 2])) : DB_FLOOR;
        p[tap * 4 + 2] = a[o + 3] / n;
        p[tap * 4 + 3] = a[o + 4];
      }
      a[o] = 0;
      a[o + 1] = 0;
      a[o + 2] = 0;
      a[o + 3] = 0;
    }
  }
}
