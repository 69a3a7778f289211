/**
 * The bucket aggregator: hangs off both taps and keeps, per 5 s wall-clock bucket, each
 * meter's {count, min, max, avg, last} and the PRE and POST audio at its place in the
 * bucket (bucket-accumulator.ts). It also hangs on each tap's loudness integrator: the
 * 400 ms blocks that end in a bucket are kept for its gated loudness, and the station's
 * integrated loudness and range are read when its audio moves on to the next bucket. A
 * bucket is finalized, and handed on as a record, once the station's clock passes its end
 * plus the grace; audio for a bucket already finalized is counted late and kept out of
 * storage.
 */
import type { KnobValues } from '../../../protocol/knobs.ts';
import type { BucketQos } from '../../../protocol/metrics.ts';
import type { LoudnessIntegrator } from '../../../worklets/dsp/loudness.ts';
import { BucketAccumulator } from './bucket-accumulator.ts';
import type { BucketIngest, BucketRecord, IngestCounters, StationSpec } from './messages.ts';
import { SampleChunks, chunkSamplesFor, readSamples } from './sample-chunks.ts';
import type { SegmentBuffers } from './segment-buffers.ts';
import type { Frame, Stage, StageStats, TapSink } from './stage.ts';

export class BucketAggregator implements Stage {
  private current: BucketAccumulator | null = null;
  /** Buckets the station has moved past, waiting to be complete. */
  private closed: BucketAccumulator[] = [];
  private lastFinalizedTs = -Infinity;
  private readonly chunkSamples: number;
  private readonly bucketSamples: number;
  /** Arrival of the newest frame written (epoch ms): what history frames carry (recentFrames). */
  private lastArrivalMs = 0;
  /** Frames whose bucket had already been finalized. */
  lateFrames = 0;
  bucketsFinalized = 0;
  /** The PRE tap's sink: the bucket's PRE metrics and audio. */
  readonly pre: TapSink = { consume: (frame, meters) => this.current?.addTap(0, frame, meters) };
  /** The POST tap's sink: POST metrics and audio; the frame then counts as written. */
  readonly post: TapSink = { consume: (frame, meters) => this.consumePost(frame, meters) };

  constructor(
    private readonly spec: StationSpec,
    private readonly buffers: SegmentBuffers,
    /** The station's counters when a bucket is finalized (they ride on its record). */
    private readonly counters: () => IngestCounters,
    private readonly onBucket: (record: BucketRecord) => void,
    /** The PRE and POST meters' loudness integrators (FrameMeter.loudness): their blocks are hooked here. */
    private readonly loudness: readonly [LoudnessIntegrator, LoudnessIntegrator],
    /** Call quality over a bucket when it is finalized (live stations behind the jitter buffer), or null. */
    private readonly qos: (bucketTs: number) => BucketQos | null = () => null,
  ) {
    this.chunkSamples = chunkSamplesFor(spec.sampleRate);
    this.bucketSamples = (spec.sampleRate * spec.bucketMs) / 1000;
    // A block completes inside the meter's pass over a frame, before the sinks see that
    // frame: the frame's bucket is already `current` (enterBucket comes first).
    loudness[0].onBlock = (power) => this.current?.addBlock(0, power);
    loudness[1].onBlock = (power) => this.current?.addBlock(1, power);
  }

  /** True once nothing is left to finalize. */
  get idle(): boolean {
    return this.current === null && this.closed.length === 0;
  }

  /** The station's frames move to a new bucket, with these knobs in force from its first sample. */
  enterBucket(bucketTs: number, knobs: KnobValues, configVersion: number, lastKnobEventId: number | null): void {
    if (this.current !== null) {
      // The station's loudness as of the bucket's end: no frame of the next bucket is metered yet.
      this.current.endLoudness(this.loudness[0], this.loudness[1]);
      this.closed.push(this.current);
    }
    this.current = null;
    if (bucketTs <= this.lastFinalizedTs) return; // late: its frames are counted, not kept
    const audio = (): SampleChunks => new SampleChunks(this.chunkSamples, this.bucketSamples, this.buffers);
    this.current = new BucketAccumulator(bucketTs, audio(), audio(), knobs, configVersion, lastKnobEventId, this.spec.bucketMs);
  }

  /** Finalizes the buckets complete at `nowMs` (the station's clock); all of them with Infinity. */
  finalizeComplete(nowMs: number): void {
    const wait = this.spec.bucketMs + this.spec.graceMs;
    while (this.closed.length > 0 && nowMs >= this.closed[0].bucketTs + wait) this.finalize(this.closed.shift() as BucketAccumulator);
    const cur = this.current;
    if (cur !== null && nowMs >= cur.bucketTs + wait) {
      this.current = null;
      this.finalize(cur);
    }
  }

  /**
   * A tap's most recent audio that the buckets still hold (0 PRE, 1 POST: that side's
   * chunks), as up to `maxFrames` whole frames ending at the last sample written, oldest
   * first: for a listener egress encoder's history (egress.ts). Read between frames (the
   * worker's messages come then).
   *
   * The audio is the run written without a gap: the current bucket's from its `runStart`
   * and, only when that run starts at the bucket's first sample, the previous bucket's end
   * while it waits for its grace, if that bucket is the one just before and was written to
   * its last sample. Silence the station never sent (before its first audio, over a resync)
   * ends the history there rather than being replayed. A partial oldest frame is left out.
   *
   * Each frame is read into `frame` and yielded (reused: valid until the next): its samples
   * (the int16 audio back to floats; `frame.samples.length` is the frame size), bucketTs,
   * offset, arrivalMs (the newest frame's arrival: the frames' own are not kept), concealed
   * false. Nothing is allocated or copied but one frame at a time.
   */
  *recentFrames(tap: 0 | 1, maxFrames: number, frame: Frame): Generator<Frame, void, undefined> {
    const size = frame.samples.length;
    const cur = this.current;
    if (cur === null || cur.frames === 0 || !(maxFrames > 0) || size === 0) return;
    let want = Math.floor(maxFrames) * size;
    const curFrom = Math.max(cur.runStart, cur.sampleEnd - want);
    want -= cur.sampleEnd - curFrom;
    let prev: BucketAccumulator | null = null;
    let prevFrom = 0;
    const last = this.closed.length > 0 ? this.closed[this.closed.length - 1] : null;
    if (want > 0 && curFrom === 0 && last !== null && last.frames > 0 && last.bucketTs + this.spec.bucketMs === cur.bucketTs && last.sampleEnd === this.bucketSamples) {
      prev = last;
      prevFrom = Math.max(last.runStart, last.sampleEnd - want);
    }
    // Positions on the joined run: [0, prevLen) are prev's from prevFrom, then cur's from curFrom.
    const prevLen = prev === null ? 0 : prev.sampleEnd - prevFrom;
    const total = prevLen + cur.sampleEnd - curFrom;
    const frames = Math.floor(total / size);
    const curAudio = tap === 0 ? cur.pre : cur.post;
    for (let k = 0, at = total - frames * size; k < frames; k++, at += size) {
      let filled = 0;
      if (prev !== null && at < prevLen) {
        filled = Math.min(size, prevLen - at);
        readSamples(tap === 0 ? prev.pre : prev.post, prevFrom + at, frame.samples, 0, filled);
        frame.bucketTs = prev.bucketTs;
        frame.offset = prevFrom + at;
      } else {
        frame.bucketTs = cur.bucketTs;
        frame.offset = curFrom + at - prevLen;
      }
      if (filled < size) readSamples(curAudio, curFrom + at + filled - prevLen, frame.samples, filled, size - filled);
      frame.length = size;
      frame.arrivalMs = this.lastArrivalMs;
      frame.concealed = false;
      yield frame;
    }
  }

  stats(): StageStats {
    return { bucket_ts: this.current?.bucketTs ?? null, open_buckets: this.closed.length + (this.current === null ? 0 : 1), late_frames: this.lateFrames, buckets: this.bucketsFinalized };
  }

  private consumePost(frame: Frame, meters: Float64Array): void {
    const acc = this.current;
    if (acc === null) {
      this.lateFrames++;
      return;
    }
    acc.addTap(1, frame, meters);
    acc.markWritten(frame.offset, frame.length);
    this.lastArrivalMs = frame.arrivalMs;
  }

  private finalize(acc: BucketAccumulator): void {
    this.lastFinalizedTs = Math.max(this.lastFinalizedTs, acc.bucketTs);
    if (acc.frames === 0) {
      acc.pre.release();
      acc.post.release();
      return;
    }
    // The current bucket, finalized before the station moved on: its last frame was the station's last.
    acc.endLoudness(this.loudness[0], this.loudness[1]);
    this.bucketsFinalized++;
    const s = this.spec;
    this.onBucket({
      traceId: s.traceId,
      stationKey: s.stationKey,
      bucketTs: acc.bucketTs,
      bucketMs: s.bucketMs,
      sampleRate: s.sampleRate,
      metrics: acc.metrics(),
      knobs: acc.knobs,
      configVersion: acc.configVersion,
      lastKnobEventId: acc.lastKnobEventId,
      ingest: this.ingest(acc.bucketTs),
      sampleStart: acc.sampleStart,
      samples: acc.sampleEnd,
      pre: { chunkSamples: acc.pre.chunkSamples, chunks: acc.pre.chunks },
      post: { chunkSamples: acc.post.chunkSamples, chunks: acc.post.chunks },
      recordedPart: s.recorded?.part ?? null,
      loudnessBlocks: s.recorded === undefined ? null : acc.loudnessBlocks(),
      client: s.client,
    });
  }

  /** The station's counters, with the bucket's call quality when it has one. */
  private ingest(bucketTs: number): BucketIngest {
    const counters = this.counters();
    const qos = this.qos(bucketTs);
    return qos === null ? counters : { ...counters, qos };
  }
}
