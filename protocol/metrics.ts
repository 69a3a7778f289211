/**
 * Meter names and the per-bucket shapes of a tap's metrics (seed 000 §5.2).
 *
 * Every per-frame metric is measured per 20 ms frame at both taps; a bucket keeps
 * `{count, min, max, avg, last}` of the frame values. dB values floor at -120 so that JSON
 * never carries NaN or Infinity. Beside them, two gated loudness entries (ITU-R BS.1770-4,
 * EBU Tech 3342) that are not frame aggregates: a mean of dB values is not a loudness, so
 * the bucket's own value is gated over the bucket's 400 ms blocks. A gated value is `null`
 * where no block passes the gates (silence), never -Infinity.
 *
 * A station is mono and metered as one channel (G = 1.0): a 1 kHz sine at -23 dBFS peak
 * reads -26.0 LUFS, 3.01 LU below the stereo pair of that sine in EBU Tech 3341 case 1.
 */
import { INTEGRATED_LOUDNESS, LATER_METRIC_NAMES, LOUDNESS_RANGE, METRIC_NAMES, TAPS, type LaterMetricName, type MetricName } from './meter-names.ts';
import * as T from './schema.ts';

export { INTEGRATED_LOUDNESS, LATER_METRIC_NAMES, LOUDNESS_RANGE, METRIC_NAMES, TAPS, type LaterMetricName, type MetricName };

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

/** `loudness.integrated_lufs` of a tap in a bucket. */
export const GatedLoudness = T.Object({
  bucket: T.Nullable(
    T.Number(),
    'BS.1770-4 gated loudness (absolute gate -70 LUFS, relative gate -10 LU) of the 400 ms blocks (100 ms hop) that end in the bucket, LUFS; null when none passes',
  ),
  station: T.Nullable(T.Number(), 'integrated loudness of the station since it started (a recorded run: since its part started), as of the bucket\'s end, LUFS; null when no block passed yet'),
  active_s: T.Number({
    minimum: 0,
    description: 'seconds of the bucket\'s blocks that pass the absolute gate and the relative gate of `station` (0.1 s per block, the 100 ms hop): evidence of speech',
  }),
});
export type GatedLoudness = T.Static<typeof GatedLoudness>;

/** `loudness.range_lu` of a tap in a bucket. */
export const LoudnessRange = T.Object({
  station: T.Nullable(T.Number({ minimum: 0 }), 'EBU Tech 3342 loudness range of the station since it started, as of the bucket\'s end, LU; null before a short-term value passed the gates'),
});
export type LoudnessRange = T.Static<typeof LoudnessRange>;

const isLater = (name: MetricName): name is LaterMetricName => (LATER_METRIC_NAMES as readonly string[]).includes(name);
const OptionalAggregate = T.Optional(MetricAggregate);
const aggregates = Object.fromEntries(METRIC_NAMES.map((name) => [name, isLater(name) ? OptionalAggregate : MetricAggregate])) as Record<
  Exclude<MetricName, LaterMetricName>,
  typeof MetricAggregate
> &
  Record<LaterMetricName, typeof OptionalAggregate>;

/**
 * Every metric of one tap. A relay may add metrics a client does not know (seed 000 §5.2
 * shows a subset), so clients read the ones they need and ignore the rest. Buckets stored
 * before the relay measured loudness and true peak lack the later metrics and the gated
 * entries: they are absent, not zero.
 */
export const TapMetrics = T.Object(
  {
    ...aggregates,
    [INTEGRATED_LOUDNESS]: T.Optional(GatedLoudness),
    [LOUDNESS_RANGE]: T.Optional(LoudnessRange),
  },
  { description: 'per-frame metric name -> {count,min,max,avg,last} over the bucket\'s 20 ms frames; and the gated loudness entries' },
);
export type TapMetrics = T.Static<typeof TapMetrics>;

/**
 * Call quality of a live station over one bucket (seed 004 §8.1), from its jitter buffer:
 * what happened to the packets whose audio plays in the bucket, and the E-model estimate of
 * that (protocol/qos.ts; the delay in it is the relay's jitter-buffer delay only). Not per
 * tap, the network being before both, and not among the tap metrics of seed 000 §5.2 (a
 * snapshot's metrics are PRE and POST, to the letter): it rides on the bucket's ingest
 * counters, as `qos`, for live stations behind the jitter buffer.
 */
export const BucketQos = T.Object(
  {
    packets_received: T.Integer({ minimum: 0, description: 'packets that reached the jitter buffer' }),
    packets_lost: T.Integer({ minimum: 0, description: 'packets not there at their play-out time (concealed)' }),
    loss_pct: T.Nullable(T.Number({ minimum: 0, maximum: 100 }), 'lost over lost and played, percent; null when none was due'),
    jitter_ms: T.Nullable(T.Number({ minimum: 0 }), 'RFC 3550 interarrival jitter at the end of the bucket, ms'),
    late: T.Integer({ minimum: 0, description: 'packets that came after their play-out time' }),
    discarded: T.Integer({ minimum: 0, description: 'late, duplicate and overflowed packets' }),
    concealed_ms: T.Number({ minimum: 0, description: 'audio made by concealment, ms' }),
    concealment_events: T.Integer({ minimum: 0, description: 'runs of concealed frames' }),
    jb_delay_ms: T.Nullable(T.Number(), 'mean jitter-buffer delay of the packets played, ms; null when none was'),
    jb_target_ms: T.Number({ minimum: 0, description: 'the jitter buffer\'s target delay at the end of the bucket, ms' }),
    r: T.Number({ description: 'E-model R (ITU-T G.107, simplified)' }),
    mos: T.Number({ minimum: 1, maximum: 4.5 }),
    level: T.Enum(['GOOD', 'POOR', 'CRITICAL'], { description: 'seed 004 §8.1 level' }),
  },
  { description: 'call quality over the bucket (live stations behind the jitter buffer only)' },
);
export type BucketQos = T.Static<typeof BucketQos>;

export const BucketMetrics = T.Object({ PRE: TapMetrics, POST: TapMetrics });
export type BucketMetrics = T.Static<typeof BucketMetrics>;

/** Bucket length of the optimizer contract (seed 000 §4). */
export const BUCKET_MS = 5000;
