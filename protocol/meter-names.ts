/**
 * The taps and the per-frame meters by name, as plain constants: the media workers and the
 * browser's worklets lay out their per-frame values in this order without loading the
 * schema library (metrics.ts has the JSON shapes built on them).
 */

export const TAPS = ['PRE', 'POST'] as const;

/** Per-frame meters, aggregated per bucket as {count, min, max, avg, last}. */
export const METRIC_NAMES = [
  'pcm.rms_dbfs',
  'pcm.peak_dbfs',
  'pcm.clipping_ratio',
  'pcm.dc_offset',
  'loudness.momentary_lufs',
  // EBU R128 short-term loudness (3 s) as of the frame's last completed 100 ms step, LUFS.
  'loudness.short_term_lufs',
  // ITU-R BS.1770-4 Annex 2 true peak of the frame, dBTP: a bucket's `max` is its true peak.
  'pcm.true_peak_dbtp',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** Per-frame meters that buckets stored before the relay measured them lack. */
export const LATER_METRIC_NAMES = ['loudness.short_term_lufs', 'pcm.true_peak_dbtp'] as const satisfies readonly MetricName[];
export type LaterMetricName = (typeof LATER_METRIC_NAMES)[number];

/** Gated loudness entries of a tap's bucket metrics (BS.1770-4, EBU Tech 3342): not per-frame aggregates. */
export const INTEGRATED_LOUDNESS = 'loudness.integrated_lufs';
export const LOUDNESS_RANGE = 'loudness.range_lu';
