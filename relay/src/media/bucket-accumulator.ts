import type { KnobValues } from '../../../protocol/knobs.ts';
import { METRIC_NAMES, TAPS } from '../../../protocol/meter-names.ts';
import type { BucketMetrics, MetricAggregate, TapMetrics } from '../../../protocol/metrics.ts';
import type { SampleChunks } from './sample-chunks.ts';
import type { Frame } from './stage.ts';

/** Metric values of one frame at one tap, in METRIC_NAMES order. */
export type FrameMetricValues = Float64Array;

const FIELDS = 4; // min, max, sum, last (count is shared by a tap)

/**
 * Everything the relay keeps of one (station, bucket) while the bucket fills: per tap and
 * metric the running {count, min, max, sum, last}, and the PRE/POST audio as 16-bit PCM at
 * its place in the bucket (sample i is at bucket_ts + i / rate; unreceived samples are 0),
 * held in chunks allocated as audio arrives (sample-chunks.ts).
 */
export class BucketAccumulator {
  readonly pre: SampleChunks;
  readonly post: SampleChunks;
  /** One past the last sample written. */
  sampleEnd = 0;
  /** The first sample written (samples before it are silence the station never sent). */
  sampleStart = Number.MAX_SAFE_INTEGER;
  /**
   * The first sample of the run written without a gap up to sampleEnd: sampleStart, unless
   * the station's timeline jumped forward inside the bucket (a resync, framer.ts), leaving
   * silence it never sent. Listener history (egress.ts) starts no earlier.
   */
  runStart = 0;
  frames = 0;
  private readonly agg = new Float64Array(TAPS.length * METRIC_NAMES.length * FIELDS);

  constructor(
    readonly bucketTs: number,
    pre: SampleChunks,
    post: SampleChunks,
    readonly knobs: KnobValues,
    readonly configVersion: number,
    readonly lastKnobEventId: number | null,
  ) {
    this.pre = pre;
    this.post = post;
    for (let i = 0; i < this.agg.length; i += FIELDS) {
      this.agg[i] = Infinity;
      this.agg[i + 1] = -Infinity;
    }
  }

  /** Adds one frame at a tap (0 = PRE, 1 = POST): its metric values, and its audio at its offset. */
  addTap(tap: 0 | 1, frame: Frame, values: FrameMetricValues): void {
    this.addMetrics(tap, values);
    (tap === 0 ? this.pre : this.post).write(frame.offset, frame.samples, frame.length);
  }

  /** Adds one frame's metric values for a tap (0 = PRE, 1 = POST). */
  addMetrics(tap: 0 | 1, values: FrameMetricValues): void {
    const base = tap * METRIC_NAMES.length * FIELDS;
    for (let m = 0; m < METRIC_NAMES.length; m++) {
      const v = values[m];
      const o = base + m * FIELDS;
      if (v < this.agg[o]) this.agg[o] = v;
      if (v > this.agg[o + 1]) this.agg[o + 1] = v;
      this.agg[o + 2] += v;
      this.agg[o + 3] = v;
    }
  }

  /** Records a frame written at `offset` (samples never written stay silent). */
  markWritten(offset: number, length: number): void {
    if (this.frames === 0 || offset > this.sampleEnd) this.runStart = offset;
    if (offset < this.sampleStart) this.sampleStart = offset;
    if (offset + length > this.sampleEnd) this.sampleEnd = offset + length;
    this.frames++;
  }

  metrics(): BucketMetrics {
    const out = {} as BucketMetrics;
    TAPS.forEach((tap, t) => {
      const tapOut = {} as TapMetrics;
      METRIC_NAMES.forEach((name, m) => {
        const o = (t * METRIC_NAMES.length + m) * FIELDS;
        const count = this.frames;
        const agg: MetricAggregate = {
          count,
          min: round(this.agg[o]),
          max: round(this.agg[o + 1]),
          avg: round(count > 0 ? this.agg[o + 2] / count : 0),
          last: round(this.agg[o + 3]),
        };
        tapOut[name] = agg;
      });
      out[tap] = tapOut;
    });
    return out;
  }
}

/** Six significant decimals are more than any meter resolves, and keep JSON small. */
function round(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.round(v * 1e6) / 1e6;
}
