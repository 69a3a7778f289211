/**
 * The framer: decoded samples in, 20 ms frames on the station's timeline out, each with its
 * bucket and its offset in that bucket (time/bucket-clock.ts). The timeline maps media time
 * to wall time once, at the first samples; after that the sample count decides where a
 * sample goes, so jitter never moves audio between buckets.
 *
 * A station whose audio arrives later than the grace behind its timeline (the sender
 * stalled) would write into buckets that are already final: its timeline moves forward so
 * the audio plays at its arrival, and the gap stays silent (a resync). Arrival times, not
 * the worker's clock, decide: a busy worker must not move anyone's audio.
 */
import { PROCESSING_FRAME_MS, StationTimeline } from '../time/bucket-clock.ts';
import type { Frame, SampleSink, Stage, StageStats } from './stage.ts';

export class Framer implements SampleSink, Stage {
  private timeline: StationTimeline | null = null;
  private readonly frame: Frame;
  /** The frame buffer samples are gathered in (a frame may instead be handed on in place, see write). */
  private readonly own: Float32Array;
  private readonly samplesPerFrame: number;
  /** Index of the frame being filled on the timeline. */
  private frameIndex = 0;
  /** Frames handed on: the playout position (unlike frameIndex, not moved by a resync). */
  private framesPlayed = 0;
  private fill = 0;
  private arrivalMs = 0;
  /** Set by the station before its clock releases packets: the time they go on (Frame.releasedMs). */
  releasedMs = 0;
  private concealed = false;
  private ended = false;
  resyncs = 0;
  private readonly msPerSample: number;

  constructor(
    private readonly sampleRate: number,
    private readonly bucketMs: number,
    /** How late audio may be behind its timeline before the timeline moves (the bucket grace), ms. */
    private readonly graceMs: number,
    private readonly onFrame: (frame: Frame) => void,
  ) {
    const frameSamples = (sampleRate * PROCESSING_FRAME_MS) / 1000;
    this.samplesPerFrame = frameSamples;
    this.own = new Float32Array(frameSamples);
    this.frame = { samples: this.own, length: 0, bucketTs: 0, offset: 0, arrivalMs: 0, releasedMs: 0, concealed: false };
    this.msPerSample = 1000 / sampleRate;
  }

  /** Audio handed on so far, ms (the live clock's playout position). */
  get playedMs(): number {
    return (this.framesPlayed * this.samplesPerFrame + this.fill) * this.msPerSample;
  }

  /** The bucket of the next sample (null before the first). */
  currentBucketTs(): number | null {
    return this.timeline === null ? null : this.timeline.bucketOfFrame(this.frameIndex);
  }

  /** Samples per full frame and per bucket at this rate. */
  get frameSamples(): number {
    return this.samplesPerFrame;
  }

  write(src: Float32Array, length: number, arrivalMs: number, concealed: boolean): void {
    if (length === 0) return;
    // The station's timeline starts at its first audio.
    this.timeline ??= new StationTimeline(this.sampleRate, arrivalMs, this.bucketMs);
    const frame = this.own;
    const size = this.samplesPerFrame;
    this.arrivalMs = arrivalMs;
    if (concealed) this.concealed = true;
    let i = 0;
    // A whole frame at the start of the samples, with none gathered before it (a 20 ms
    // packet, as most are), goes on in place: the stages after may change it, and the
    // writer's buffer is reused anyway.
    if (this.fill === 0 && length >= size) {
      this.resyncIfStalled();
      this.frame.samples = src;
      this.emit(size);
      this.frame.samples = this.own;
      i = size;
    }
    while (i < length) {
      if (this.fill === 0) this.resyncIfStalled();
      const n = Math.min(length - i, size - this.fill);
      const fill = this.fill;
      for (let j = 0; j < n; j++) frame[fill + j] = src[i + j];
      this.fill = fill + n;
      i += n;
      if (this.fill === size) this.emit(size);
    }
  }

  /** The station ends: the frame being filled goes on, short. */
  end(): void {
    this.ended = true;
    if (this.fill > 0) this.emit(this.fill);
  }

  stats(): StageStats {
    return { resyncs: this.resyncs, frames_played: this.framesPlayed, bucket_ts: this.currentBucketTs() };
  }

  private resyncIfStalled(): void {
    const tl = this.timeline as StationTimeline;
    if (this.ended || this.arrivalMs - tl.frameWallMs(this.frameIndex) <= this.graceMs) return;
    this.frameIndex = tl.frameAtOrAfter(this.arrivalMs - PROCESSING_FRAME_MS);
    this.resyncs++;
  }

  private emit(length: number): void {
    const tl = this.timeline as StationTimeline;
    const f = this.frame;
    f.length = length;
    f.bucketTs = tl.bucketOfFrame(this.frameIndex);
    f.offset = tl.sampleOffsetInBucket(this.frameIndex);
    f.arrivalMs = this.arrivalMs;
    f.releasedMs = Math.max(this.releasedMs, this.arrivalMs);
    f.concealed = this.concealed;
    this.onFrame(f);
    this.frameIndex++;
    this.framesPlayed++;
    this.fill = 0;
    this.concealed = false;
  }
}
