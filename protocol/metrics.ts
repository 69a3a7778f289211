/**
 * Meter names and the per-bucket aggregate shape (seed 000 §5.2).
 *
 * Every metric is measured per 20 ms frame at both taps; a bucket keeps
 * `{count, min, max, avg, last}` of the frame values. dB values floor at -120 so that JSON
 * never carries NaN or Infinity.
 */
import { METRIC_NAMES, TAPS, type MetricName } from './meter-names.ts';
import * as T from './schema.ts';

export { METRIC_NAMES, TAPS, type MetricName };

export const Tap = T.Enum([...TAPS], { description: 'PRE: before the knob chain; POST: after it' });
export type Tap = T.Static<typeof Tap>;

/** One metric over a bucket's 20 ms frames. */
export const MetricAggregate = T.Object({
  count: T.Integer({ minimum: 0, description: 'frames measured' }),
  min: T.Number(),
  max: T.Number(),
  avg: T.Number(),
  last: T.Number({ description: 'the value of the last frame' }),
});
export type MetricAggregate = T.Static<typeof MetricAggregate>;

/**
 * Every metric of one tap. A relay may add metrics a client does not know (seed 000 §5.2
 * shows a subset), so clients read the ones they need and ignore the rest.
 */
export const TapMetrics = T.Object(
  Object.fromEntries(METRIC_NAMES.map((name) => [name, MetricAggregate])) as Record<MetricName, typeof MetricAggregate>,
  { description: 'metric name -> {count,min,max,avg,last} over the bucket\'s 20 ms frames' },
);
export type TapMetrics = T.Static<typeof TapMetrics>;

export const BucketMetrics = T.Object({ PRE: TapMetrics, POST: TapMetrics });
export type BucketMetrics = T.Static<typeof BucketMetrics>;

/** Bucket length of the optimizer contract (seed 000 §4). */
export const BUCKET_MS = 5000;
