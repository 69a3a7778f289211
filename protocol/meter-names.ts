/**
 * The taps and the per-frame meters by name, as plain constants: the media workers and the
 * browser's worklets lay out their per-frame values in this order without loading the
 * schema library (metrics.ts has the JSON shapes built on them).
 */

export const TAPS = ['PRE', 'POST'] as const;

export const METRIC_NAMES = [
  'pcm.rms_dbfs',
  'pcm.peak_dbfs',
  'pcm.clipping_ratio',
  'pcm.dc_offset',
  'loudness.momentary_lufs',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
