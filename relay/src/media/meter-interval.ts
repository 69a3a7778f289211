/**
 * Meter values of one station over one telemetry publication interval (seed 003): per tap,
 * RMS (energy over the interval's frames), sample peak, clipping ratio and the latest
 * momentary loudness. Updated per frame without allocating; read and restarted at each
 * publication. An interval with no audio repeats the previous values, so a meter does not
 * flicker to silence when frames arrive in bursts. The aggregation is the shared kernel
 * (worklets/dsp/meter-window.ts, as in the capture worklet); this lays two taps out flat.
 */
import { DB_FLOOR } from '../../../worklets/dsp/constants.ts';
import { MeterWindow } from '../../../worklets/dsp/meter-window.ts';

/** Published fields per tap, in this order. */
export const TAP_FIELDS = ['rms_dbfs', 'peak_dbfs', 'clipping_ratio', 'momentary_lufs'] as const;

export class MeterInterval {
  private readonly taps = [new MeterWindow(), new MeterWindow()] as const;
  /** The last published values: [PRE rms, peak, clip, lufs, POST rms, peak, clip, lufs]. */
  readonly published = new Float64Array(8).fill(DB_FLOOR);

  constructor() {
    this.published[2] = 0;
    this.published[6] = 0;
  }

  add(tap: 0 | 1, length: number, rmsDbfs: number, peakDbfs: number, clippingRatio: number, momentaryLufs: number): void {
    this.taps[tap].add(length, rmsDbfs, peakDbfs, clippingRatio, momentaryLufs);
  }

  /** Closes the interval: `published` then holds its values. */
  publish(): void {
    const p = this.published;
    for (let tap = 0; tap < 2; tap++) {
      const w = this.taps[tap];
      w.endWindow();
      const o = tap * TAP_FIELDS.length;
      p[o] = w.rmsDbfs;
      p[o + 1] = w.peakDbfs;
      p[o + 2] = w.clippingRatio;
      p[o + 3] = w.momentaryLufs;
    }
  }
}
