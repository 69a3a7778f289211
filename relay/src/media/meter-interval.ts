/**
 * Meter values of one station over one telemetry publication interval (seed 003): per tap,
 * RMS (energy over the interval's frames), sample peak, clipping ratio, the latest
 * momentary and short-term loudness and the largest true peak; and, read from each tap's
 * loudness integrator at publication, the station's integrated loudness and loudness range
 * (EBU R128, since the station started). Updated per frame without allocating; read and
 * restarted at each publication. An interval with no audio repeats the previous values, so
 * a meter does not flicker to silence when frames arrive in bursts. The aggregation is the
 * shared kernel (worklets/dsp/meter-window.ts, as in the capture worklet); this lays two
 * taps out flat.
 */
import { METRIC_NAMES, type MetricName } from '../../../protocol/meter-names.ts';
import { DB_FLOOR } from '../../../worklets/dsp/constants.ts';
import type { LoudnessIntegrator } from '../../../worklets/dsp/loudness.ts';
import { MeterWindow } from '../../../worklets/dsp/meter-window.ts';
import { TAP_METER_FIELDS } from './messages.ts';

/** Published fields per tap, in this order. */
export const TAP_FIELDS = TAP_METER_FIELDS;
const F = TAP_FIELDS.length;
const at = (name: (typeof TAP_FIELDS)[number]): number => TAP_FIELDS.indexOf(name);
const RMS = at('rms_dbfs');
const PEAK = at('peak_dbfs');
const CLIPPING = at('clipping_ratio');
const MOMENTARY = at('momentary_lufs');
const SHORT_TERM = at('short_term_lufs');
const INTEGRATED = at('integrated_lufs');
const RANGE = at('range_lu');
const TRUE_PEAK = at('true_peak_dbtp');
// Where the meters are in a tap's per-frame values (protocol/meter-names.ts METRIC_NAMES).
const value = (name: MetricName): number => METRIC_NAMES.indexOf(name);
const RMS_VALUE = value('pcm.rms_dbfs');
const PEAK_VALUE = value('pcm.peak_dbfs');
const CLIPPING_VALUE = value('pcm.clipping_ratio');
const MOMENTARY_VALUE = value('loudness.momentary_lufs');
const SHORT_TERM_VALUE = value('loudness.short_term_lufs');
const TRUE_PEAK_VALUE = value('pcm.true_peak_dbtp');

export class MeterInterval {
  private readonly taps = [new MeterWindow(), new MeterWindow()] as const;
  private readonly loudness: [LoudnessIntegrator | null, LoudnessIntegrator | null] = [null, null];
  /**
   * The last published values, TAP_FIELDS for PRE then for POST. Integrated loudness and
   * range are NaN while there is none (JSON null).
   */
  readonly published = new Float64Array(2 * F).fill(DB_FLOOR);

  constructor() {
    for (let tap = 0; tap < 2; tap++) {
      this.published[tap * F + CLIPPING] = 0;
      this.published[tap * F + INTEGRATED] = NaN;
      this.published[tap * F + RANGE] = NaN;
    }
  }

  /** The integrator whose integrated loudness and range a tap (0 PRE, 1 POST) publishes. */
  watch(tap: 0 | 1, loudness: LoudnessIntegrator): void {
    this.loudness[tap] = loudness;
  }

  /** Adds a frame of `length` samples: a tap's values, in METRIC_NAMES order (Tap.values). */
  add(tap: 0 | 1, length: number, values: Float64Array): void {
    this.taps[tap].add(length, values[RMS_VALUE], values[PEAK_VALUE], values[CLIPPING_VALUE], values[MOMENTARY_VALUE], values[SHORT_TERM_VALUE], values[TRUE_PEAK_VALUE]);
  }

  /** Closes the interval: `published` then holds its values. */
  publish(): void {
    const p = this.published;
    for (let tap = 0; tap < 2; tap++) {
      const w = this.taps[tap];
      w.endWindow();
      const o = tap * F;
      p[o + RMS] = w.rmsDbfs;
      p[o + PEAK] = w.peakDbfs;
      p[o + CLIPPING] = w.clippingRatio;
      p[o + MOMENTARY] = w.momentaryLufs;
      p[o + SHORT_TERM] = w.shortTermLufs;
      p[o + TRUE_PEAK] = w.truePeakDbtp;
      // The integrator computes these at most once per 100 ms step, however often they are read.
      const l = this.loudness[tap];
      if (l !== null) {
        p[o + INTEGRATED] = l.integratedLufs() ?? NaN;
        p[o + RANGE] = l.loudnessRangeLu() ?? NaN;
      }
    }
  }
}
