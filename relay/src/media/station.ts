/**
 * One station's media pipeline, inside a media worker:
 *
 *   ingress queue -> playout clock -> decoder (+ concealment) -> 20 ms frames
 *   -> PRE meters -> knob chain -> POST meters -> bucket accumulator -> bucket record
 *
 * The playout clock: a live station is consumed at its media rate. A packet is processed
 * when its place on the station's timeline is no later than the wall clock plus a small
 * jitter allowance; a sender running ahead of real time fills the queue, which drops its
 * oldest packets (seed 001) and says so. Late packets are processed at once, at their
 * timeline position, so network jitter never moves a sample between buckets.
 *
 * A recorded station (an upload's part) has no playout clock: every packet is processed as
 * it comes, its arrival time being its capture time, and buckets finalize by the latest
 * capture time rather than the worker's clock. The rest (decoder, meters, knob chain,
 * buckets, the resync and gap logic) is the same code as for live audio.
 */
import { CODEC_IDS, codecName } from '../../../protocol/frame.ts';
import type { KnobValues } from '../../../protocol/knobs.ts';
import { Concealer } from '../../../worklets/dsp/plc.ts';
import { FrameMeter } from '../../../worklets/dsp/meters.ts';
import { ProcessingChain } from '../../../worklets/dsp/chain.ts';
import { PROCESSING_FRAME_MS, StationTimeline } from '../time/bucket-clock.ts';
import { createDecoder, DecodeError, type FrameDecoder } from './codecs/decoder.ts';
import { BucketAccumulator } from './bucket-accumulator.ts';
import { IngressQueue } from './ingress-queue.ts';
import type { LatencyHistogram } from './latency-histogram.ts';
import { SampleChunks, chunkSamplesFor } from './sample-chunks.ts';
import { SegmentBuffers } from './segment-buffers.ts';
import { MeterInterval } from './meter-interval.ts';
import { BandSpectrum, defaultSpectrumFftSize } from '../../../worklets/dsp/spectrum.ts';
import type { BucketRecord, IngestCounters, ScheduleRefusal, StationSpec, StationStats } from './messages.ts';
import type { PacketView } from './packet-batch.ts';

/** Largest packet duration the decoder accepts (Opus allows up to 120 ms, RFC 6716 §3.2.5). */
const MAX_PACKET_MS = 120;
/** Sequence gaps up to this many packets are concealed; longer ones are a discontinuity. */
const MAX_CONCEALED_PACKETS = 10;
/**
 * The playout gate follows the earliest arrival it has seen (a first packet that came late
 * must not hold every later one back), but never more than this far ahead of the first
 * packet: a sender faster than real time gains at most this much before it is limited.
 */
const MAX_GATE_ADVANCE_MS = 500;
/** A media timestamp step outside this range is a discontinuity: the gate re-anchors. */
const MAX_TIMESTAMP_STEP_MS = 2000;
/** Backpressure status messages are sent at most this often per station. */
const STATUS_INTERVAL_MS = 1000;

export interface StationEvents {
  bucket(record: BucketRecord): void;
  status(state: 'backpressure' | 'ok', droppedFrames: number, queueDepth: number): void;
  decodeError(code: string, message: string): void;
}

interface PendingKnobs {
  applyAtBucketTs: number;
  knobs: KnobValues;
  configVersion: number;
  eventId: number;
}

export class Station {
  readonly id: number;
  private readonly queue: IngressQueue;
  private readonly decoder: FrameDecoder;
  private readonly codecId: number;
  private readonly decodeBuf: Float32Array;
  private readonly frame: Float32Array;
  private readonly concealBuf: Float32Array;
  private readonly preMeter: FrameMeter;
  private readonly postMeter: FrameMeter;
  private readonly chain: ProcessingChain;
  private readonly concealer: Concealer;
  private readonly metricValues = new Float64Array(5);
  /** Meters over the current telemetry interval (published by the worker, seed 003). */
  readonly meterInterval = new MeterInterval();
  /** Log-spaced band spectra of the PRE and POST taps (seed 003 WS-3), computed by the worker's clock. */
  readonly spectra: readonly [BandSpectrum, BandSpectrum];
  private timeline: StationTimeline | null = null;
  /** Playout gate: audio is processed while (ms played) < now - gateOriginMs + allowance. */
  private gateOriginMs = 0;
  private gateFloorMs = 0;
  private lastTimestampMs = 0;
  private lastMediaMs = 0;

  /** Index of the frame being filled, and how many samples it holds. */
  private frameIndex = 0;
  /** Frames processed: the playout position (unlike frameIndex, not moved by a resync). */
  private framesPlayed = 0;
  private frameFill = 0;
  private frameArrivalMs = 0;
  private frameConcealed = false;

  private lastSequence = -1;
  private lastPacketSamples = 0;
  private resyncSequence = true;

  private current: BucketAccumulator | null = null;
  private closedBuckets: BucketAccumulator[] = [];
  private lastFinalizedBucketTs = -Infinity;

  private knobs: KnobValues;
  private configVersion: number;
  private lastKnobEventId: number | null;
  private pending: PendingKnobs[] = [];

  private readonly counters: IngestCounters = {
    frames_received: 0,
    bytes_received: 0,
    frames_dropped: 0,
    decode_errors: 0,
    frames_concealed: 0,
    resyncs: 0,
    late_frames: 0,
    frames_out_of_order: 0,
  };
  private statusState: 'ok' | 'backpressure' = 'ok';
  private lastStatusAtMs = -Infinity;
  private lastDropAtMs = -Infinity;
  private statusDue = false;
  ended = false;
  /** A recorded run (spec.recorded): no playout clock, no latency samples, no telemetry. */
  readonly recorded: boolean;
  /** A recorded station's clock: the latest capture time processed, epoch ms. */
  private recordedNowMs = -Infinity;

  constructor(
    readonly spec: StationSpec,
    private readonly events: StationEvents,
    private readonly latency: LatencyHistogram,
    private readonly buffers: SegmentBuffers = new SegmentBuffers(),
  ) {
    this.id = spec.id;
    this.recorded = spec.recorded !== undefined;
    this.queue = new IngressQueue(spec.queueFrames);
    this.decoder = createDecoder(spec.codec, spec.sampleRate);
    this.codecId = CODEC_IDS[spec.codec];
    this.decodeBuf = new Float32Array((spec.sampleRate * MAX_PACKET_MS) / 1000);
    const frameSamples = (spec.sampleRate * 20) / 1000;
    this.frame = new Float32Array(frameSamples);
    this.concealBuf = new Float32Array(frameSamples);
    this.preMeter = new FrameMeter(spec.sampleRate);
    this.postMeter = new FrameMeter(spec.sampleRate);
    this.chain = new ProcessingChain(spec.sampleRate);
    // A 43 ms window (2048 points at 48 kHz) rather than the kernel's 85 ms default: half the
    // FFT cost for hundreds of stations; bands below about 100 Hz then share bins.
    const fftSize = defaultSpectrumFftSize(spec.sampleRate) / 2;
    this.spectra = [new BandSpectrum(spec.sampleRate, { fftSize }), new BandSpectrum(spec.sampleRate, { fftSize })];
    this.concealer = new Concealer(frameSamples);
    this.knobs = spec.knobs;
    this.configVersion = spec.configVersion;
    this.lastKnobEventId = spec.lastKnobEventId;
    this.chain.setKnobs(this.knobs);
  }

  /** Decode errors and drops so far, and the knobs' version: the ingest state telemetry shows. */
  get counterSnapshot(): Readonly<IngestCounters> {
    return this.counters;
  }

  get currentConfigVersion(): number {
    return this.configVersion;
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  enqueue(p: PacketView, nowMs: number): void {
    this.counters.frames_received++;
    this.counters.bytes_received += p.payload.length;
    if (this.ended) return;
    this.placeOnGate(p);
    if (this.recorded) {
      // However fast an upload comes, nothing is queued or dropped: the flow control is the
      // control plane's (a batch at a time), and the capture time is the only clock.
      this.processPacket(p, nowMs);
      if (p.arrivalMs > this.recordedNowMs) this.recordedNowMs = p.arrivalMs;
      this.finalizeComplete(this.recordedNowMs, false);
      return;
    }
    // A burst of packets that are already due (they were held up on the way, say behind a
    // busy event loop) is played before the queue counts as full: only a sender ahead of
    // real time loses packets.
    if (this.queue.depth === this.queue.capacity) this.pump(nowMs);
    if (this.queue.push(p) !== undefined) {
      this.counters.frames_dropped++;
      // The next packet out of the queue follows a gap we made ourselves: never conceal it.
      this.resyncSequence = true;
      this.lastDropAtMs = nowMs;
      if (this.statusState === 'ok') this.statusDue = true;
    }
  }

  /**
   * Gives the packet its media time (from the header's ms timestamps, unwrapped) and moves
   * the playout gate earlier when this packet arrived earlier than the gate expected.
   */
  private placeOnGate(p: PacketView): void {
    if (this.timeline === null) {
      this.timeline = new StationTimeline(this.spec.sampleRate, p.arrivalMs, this.spec.bucketMs);
      this.gateOriginMs = p.arrivalMs;
      this.gateFloorMs = p.arrivalMs - MAX_GATE_ADVANCE_MS;
      p.mediaMs = 0;
    } else {
      const step = (p.timestampMs - this.lastTimestampMs) | 0; // signed, across the 2^32 wrap
      if (step < -MAX_TIMESTAMP_STEP_MS || step > MAX_TIMESTAMP_STEP_MS) {
        // A discontinuity in the sender's clock: take this packet as the next one.
        p.mediaMs = this.lastMediaMs + PROCESSING_FRAME_MS;
      } else {
        p.mediaMs = this.lastMediaMs + step;
      }
    }
    this.lastTimestampMs = p.timestampMs;
    this.lastMediaMs = p.mediaMs;
    const implied = p.arrivalMs - p.mediaMs;
    if (implied < this.gateOriginMs) this.gateOriginMs = Math.max(implied, this.gateFloorMs);
  }

  /**
   * Processes queued packets while the audio played so far is behind the wall clock (plus
   * the jitter allowance): the station is consumed at its media rate however fast it sends.
   */
  pump(nowMs: number): void {
    const tl = this.timeline;
    if (tl === null) return;
    const limitMs = nowMs - this.gateOriginMs + this.spec.jitterAllowanceMs;
    const msPerSample = 1000 / this.spec.sampleRate;
    for (let p = this.queue.peek(); p !== undefined; p = this.queue.peek()) {
      const playedMs = (this.framesPlayed * tl.frameSamples + this.frameFill) * msPerSample;
      if (playedMs >= limitMs) break;
      this.queue.shift();
      this.processPacket(p, nowMs);
    }
  }

  /** Periodic work: the playout clock, finished buckets, status messages. */
  tick(nowMs: number): void {
    // The worker's clock is far ahead of a recording's capture times: it must not close
    // buckets the next packets still belong to.
    if (this.recorded) return;
    this.pump(nowMs);
    this.finalizeComplete(nowMs, false);
    this.emitStatus(nowMs);
  }

  /** Stop or disconnect: everything accepted is processed; buckets finalize as they complete. */
  end(nowMs: number): void {
    if (this.ended) return;
    // A recording has nothing more to come: its last buckets are complete now.
    if (this.recorded) return this.flush(nowMs);
    this.drain(nowMs);
    this.ended = true;
  }

  /** SIGTERM: process everything accepted and finalize every bucket now. */
  flush(nowMs: number): void {
    this.drain(nowMs);
    this.ended = true;
    this.finalizeComplete(nowMs, true);
  }

  /** True once an ended station has nothing left to finalize. */
  get finished(): boolean {
    return this.ended && this.current === null && this.closedBuckets.length === 0;
  }

  /**
   * Schedules a full knob set for the first sample of `applyAtBucketTs`, replacing the
   * changes pending for that bucket or later ones (the latest request wins). Refused when
   * the station has already processed audio of that bucket (the change could not be exact).
   */
  schedule(applyAtBucketTs: number, knobs: KnobValues, configVersion: number, eventId: number): ScheduleRefusal | null {
    if (this.ended) return 'station_ended';
    const cur = this.currentBucketTs();
    if (cur !== null && applyAtBucketTs <= cur) return 'bucket_started';
    this.pending = this.pending.filter((p) => p.applyAtBucketTs < applyAtBucketTs);
    this.pending.push({ applyAtBucketTs, knobs, configVersion, eventId });
    return null;
  }

  /** The bucket of the next sample to be processed (null before the first packet). */
  currentBucketTs(): number | null {
    if (this.timeline === null) return null;
    return this.timeline.bucketOfFrame(this.frameIndex);
  }

  stats(): StationStats {
    return { id: this.id, queueDepth: this.queue.depth, counters: { ...this.counters }, configVersion: this.configVersion, ended: this.ended };
  }

  close(): void {
    this.decoder.close();
  }

  private drain(nowMs: number): void {
    for (let p = this.queue.shift(); p !== undefined; p = this.queue.shift()) this.processPacket(p, nowMs);
    if (this.frameFill > 0) this.processFrame(this.frameFill, nowMs);
  }

  private processPacket(p: PacketView, nowMs: number): void {
    if (p.codec !== this.codecId) {
      this.reportDecodeError('codec_mismatch', `frame codec ${codecName(p.codec) ?? p.codec} does not match the station's ${this.spec.codec}`);
      return;
    }
    let gap = 0;
    if (!this.resyncSequence && this.lastSequence >= 0) {
      gap = (p.sequence - this.lastSequence - 1) & 0xffff;
      if (gap >= 0x8000) {
        // A duplicate, or older than audio already played: decoding it would corrupt the decoder state.
        this.counters.frames_out_of_order++;
        return;
      }
    }
    let samples: number;
    try {
      samples = this.decoder.decode(p.payload, this.decodeBuf);
    } catch (err) {
      if (err instanceof DecodeError) {
        // Counted and reported; the packet counts as lost, so the gap before the next one is concealed.
        this.reportDecodeError(err.code, `sequence ${p.sequence}: ${err.message}`);
        return;
      }
      throw err;
    }
    if (gap > 0 && gap <= MAX_CONCEALED_PACKETS) this.conceal(gap * this.lastPacketSamples, nowMs);
    this.resyncSequence = false;
    this.lastSequence = p.sequence;
    this.lastPacketSamples = samples;
    this.frameArrivalMs = p.arrivalMs;
    this.write(this.decodeBuf, samples, nowMs);
  }

  private conceal(samples: number, nowMs: number): void {
    this.counters.frames_concealed += Math.round(samples / this.frame.length);
    const chunk = this.concealBuf;
    while (samples > 0) {
      const n = Math.min(samples, this.frame.length);
      this.concealer.conceal(chunk, n);
      this.frameConcealed = true;
      this.write(chunk, n, nowMs);
      samples -= n;
    }
  }

  /** Appends decoded samples to the 20 ms frame being filled, processing full frames. */
  private write(src: Float32Array, length: number, nowMs: number): void {
    const frame = this.frame;
    let i = 0;
    while (i < length) {
      if (this.frameFill === 0) this.resyncIfStalled();
      const n = Math.min(length - i, frame.length - this.frameFill);
      const fill = this.frameFill;
      for (let j = 0; j < n; j++) frame[fill + j] = src[i + j];
      this.frameFill = fill + n;
      i += n;
      if (this.frameFill === frame.length) this.processFrame(frame.length, nowMs);
    }
  }

  /**
   * A station whose packets arrive later than the grace behind its timeline (the sender
   * stalled) would write into buckets that are already final. Move its timeline forward
   * so this packet plays at its arrival: the gap stays silent in the segments. Arrival
   * times, not the worker's clock, decide: a busy worker must not move anyone's audio.
   */
  private resyncIfStalled(): void {
    const tl = this.timeline as StationTimeline;
    if (this.ended || this.frameArrivalMs - tl.frameWallMs(this.frameIndex) <= this.spec.graceMs) return;
    this.frameIndex = tl.frameAtOrAfter(this.frameArrivalMs - PROCESSING_FRAME_MS);
    this.counters.resyncs++;
  }

  private processFrame(length: number, nowMs: number): void {
    const tl = this.timeline as StationTimeline;
    const bucketTs = tl.bucketOfFrame(this.frameIndex);
    const offset = tl.sampleOffsetInBucket(this.frameIndex);
    const frame = this.frame;
    if (!this.frameConcealed) this.concealer.remember(frame, length);

    let acc = this.current;
    if (acc === null || acc.bucketTs !== bucketTs) acc = this.startBucket(bucketTs);
    const late = acc === null;

    const v = this.metricValues;
    this.preMeter.process(frame, length);
    readMeter(this.preMeter, v);
    this.meterInterval.add(0, length, v[0], v[1], v[2], v[4]);
    this.spectra[0].push(frame, length);
    if (acc) {
      acc.addMetrics(0, v);
      acc.pre.write(offset, frame, length);
    }
    this.chain.process(frame, length);
    this.postMeter.process(frame, length);
    readMeter(this.postMeter, v);
    this.meterInterval.add(1, length, v[0], v[1], v[2], v[4]);
    this.spectra[1].push(frame, length);
    if (acc) {
      acc.addMetrics(1, v);
      acc.post.write(offset, frame, length);
      acc.markWritten(offset, length);
    }
    if (late) this.counters.late_frames++;
    if (!this.frameConcealed && !this.recorded) this.latency.record(performance.timeOrigin + performance.now() - this.frameArrivalMs);

    this.frameIndex++;
    this.framesPlayed++;
    this.frameFill = 0;
    this.frameConcealed = false;
  }

  /** Opens the accumulator of a new bucket, applying the knob changes scheduled for it. */
  private startBucket(bucketTs: number): BucketAccumulator | null {
    if (bucketTs <= this.lastFinalizedBucketTs) return null;
    if (this.current !== null) this.closedBuckets.push(this.current);
    let change: PendingKnobs | undefined;
    while (this.pending.length > 0 && this.pending[0].applyAtBucketTs <= bucketTs) change = this.pending.shift();
    if (change !== undefined) {
      this.knobs = change.knobs;
      this.configVersion = change.configVersion;
      this.lastKnobEventId = change.eventId;
      this.chain.setKnobs(change.knobs);
    }
    const tl = this.timeline as StationTimeline;
    const chunk = chunkSamplesFor(this.spec.sampleRate);
    const audio = (): SampleChunks => new SampleChunks(chunk, tl.bucketSamples, this.buffers);
    this.current = new BucketAccumulator(bucketTs, audio(), audio(), this.knobs, this.configVersion, this.lastKnobEventId);
    return this.current;
  }

  private finalizeComplete(nowMs: number, all: boolean): void {
    const { bucketMs, graceMs } = this.spec;
    while (this.closedBuckets.length > 0 && (all || nowMs >= this.closedBuckets[0].bucketTs + bucketMs + graceMs)) {
      this.finalize(this.closedBuckets.shift() as BucketAccumulator);
    }
    const cur = this.current;
    if (cur !== null && (all || nowMs >= cur.bucketTs + bucketMs + graceMs)) {
      this.current = null;
      this.finalize(cur);
    }
  }

  private finalize(acc: BucketAccumulator): void {
    this.lastFinalizedBucketTs = Math.max(this.lastFinalizedBucketTs, acc.bucketTs);
    if (acc.frames === 0) {
      acc.pre.release();
      acc.post.release();
      return;
    }
    this.events.bucket({
      traceId: this.spec.traceId,
      stationKey: this.spec.stationKey,
      bucketTs: acc.bucketTs,
      bucketMs: this.spec.bucketMs,
      sampleRate: this.spec.sampleRate,
      metrics: acc.metrics(),
      knobs: acc.knobs,
      configVersion: acc.configVersion,
      lastKnobEventId: acc.lastKnobEventId,
      ingest: { ...this.counters },
      sampleStart: acc.sampleStart,
      samples: acc.sampleEnd,
      pre: { chunkSamples: acc.pre.chunkSamples, chunks: acc.pre.chunks },
      post: { chunkSamples: acc.post.chunkSamples, chunks: acc.post.chunks },
      recordedPart: this.spec.recorded?.part ?? null,
      client: this.spec.client,
    });
  }

  private reportDecodeError(code: string, message: string): void {
    this.counters.decode_errors++;
    this.events.decodeError(code, message);
  }

  private emitStatus(nowMs: number): void {
    if (nowMs - this.lastStatusAtMs < STATUS_INTERVAL_MS) return;
    if (this.statusState === 'ok' && this.statusDue) {
      this.statusState = 'backpressure';
    } else if (this.statusState === 'backpressure' && nowMs - this.lastDropAtMs >= STATUS_INTERVAL_MS) {
      this.statusState = 'ok';
    } else if (this.statusState !== 'backpressure') {
      return;
    }
    this.statusDue = false;
    this.lastStatusAtMs = nowMs;
    this.events.status(this.statusState, this.counters.frames_dropped, this.queue.depth);
  }
}

function readMeter(m: FrameMeter, out: Float64Array): void {
  out[0] = m.rmsDbfs;
  out[1] = m.peakDbfs;
  out[2] = m.clippingRatio;
  out[3] = m.dcOffset;
  out[4] = m.momentaryLufs;
}
