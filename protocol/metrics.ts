/**
 * Meter names and the per-bucket aggregate shape (seed 000 §5.2).
 *
 * Every metric is measured per 20 ms frame at both taps; a bucket keeps
 * `{count, min, max, avg, last}` of the frame values. dB values floor at -120 so that JSON
 * never carries NaN or Infinity.
 */

export const TAPS = ['PRE', 'POST'] as const;
export type Tap = (typeof TAPS)[number];

export const METRIC_NAMES = [
  'pcm.rms_dbfs',
  'pcm.peak_dbfs',
  'pcm.clipping_ratio',
  'pcm.dc_offset',
  'loudness.momentary_lufs',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface MetricAggregate {
  count: number;
  min: number;
  max: number;
  avg: number;
  last: number;
}

export type TapMetrics = Record<MetricName, MetricAggregate>;
export type BucketMetrics = Record<Tap, TapMetrics>;

/** Bucket length of the optimizer contract (seed 000 §4). */
export const BUCKET_MS = 5000;
