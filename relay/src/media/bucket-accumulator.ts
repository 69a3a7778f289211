import type { KnobValues } from '../../../protocol/knobs.ts';
import { INTEGRATED_LOUDNESS, LOUDNESS_RANGE, METRIC_NAMES, TAPS } from '../../../protocol/meter-names.ts';
import type { BucketMetrics, MetricAggregate, TapMetrics } from '../../../protocol/metrics.ts';
import { STEP_MS, type LoudnessIntegrator } from '../../../worklets/dsp/loudness.ts';
import { gatedLoudness } from './gated-loudness.ts';
import type { LoudnessBlocks } from './messages.ts';
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
 *
 * Loudness is gated, not averaged (BS.1770-4 §2.8): per tap, the mean squares of the 400 ms
 * blocks that end in the bucket (one per 100 ms step) go into an array sized for the bucket
 * when it opens, and are gated when the bucket is finalized; the station's integrated
 * loudness and range are read from its meters once, when its audio leaves the bucket.
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
  /** Per tap, the mean squares of the 400 ms blocks that ended in this bucket, oldest first. */
  private readonly blocks: readonly [Float64Array, Float64Array];
  private readonly blockCount = [0, 0];
  /** PRE integrated, PRE range, POST integrated, POST range of the station as of the bucket's end; NaN for none. */
  private readonly station = new Float64Array(4).fill(NaN);
  private stationRead = false;

  constructor(
    readonly bucketTs: number,
    pre: SampleChunks,
    post: SampleChunks,
    readonly knobs: KnobValues,
    readonly configVersion: number,
    readonly lastKnobEventId: number | null,
    /** Bucket length, ms: sizes the block arrays (one block ends per 100 ms step). */
    bucketMs: number,
  ) {
    this.pre = pre;
    this.post = post;
    for (let i = 0; i < this.agg.length; i += FIELDS) {
      this.agg[i] = Infinity;
      this.agg[i + 1] = -Infinity;
    }
    // Steps are cut on the station's sample count, not on the bucket's edges: one spare.
    const maxBlocks = Math.ceil(bucketMs / STEP_MS) + 1;
    this.blocks = [new Float64Array(maxBlocks), new Float64Array(maxBlocks)];
  }

  /** A 400 ms block of a tap (0 = PRE, 1 = POST) ended in this bucket with mean square `power`. */
  addBlock(tap: 0 | 1, power: number): void {
    const n = this.blockCount[tap];
    const blocks = this.blocks[tap];
    // Cannot overflow with whole frames inside the bucket; bounded all the same.
    if (n === blocks.length) return;
    blocks[n] = power;
    this.blockCount[tap] = n + 1;
  }

  /**
   * The station's audio has left this bucket: reads its integrated loudness and range (each
   * tap's meter, as of the bucket's last sample). Only the first call counts.
   */
  endLoudness(pre: LoudnessIntegrator, post: LoudnessIntegrator): void {
    if (this.stationRead) return;
    this.stationRead = true;
    const s = this.station;
    s[0] = pre.integratedLufs() ?? NaN;
    s[1] = pre.loudnessRangeLu() ?? NaN;
    s[2] = post.integratedLufs() ?? NaN;
    s[3] = post.loudnessRangeLu() ?? NaN;
  }

  /** Each tap's block powers, copied out (a recorded run's bucket carries them, messages.ts). */
  loudnessBlocks(): LoudnessBlocks {
    return { PRE: this.blocks[0].slice(0, this.blockCount[0]), POST: this.blocks[1].slice(0, this.blockCount[1]) };
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
      const station = this.station[t * 2];
      tapOut[INTEGRATED_LOUDNESS] = gatedLoudness(this.blocks[t], this.blockCount[t], Number.isNaN(station) ? null : station);
      const range = this.station[t * 2 + 1];
      tapOut[LOUDNESS_RANGE] = { station: Number.isNaN(range) ? null : round(range) };
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
