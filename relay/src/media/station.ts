/**
 * One station's media pipeline, inside a media worker: a composition of stages, one file
 * each (stage.ts has their interfaces, docs/ARCHITECTURE.md the picture):
 *
 *   clock -> decode (+ concealment) -> framer -> PRE tap -> knob chain -> POST tap
 *                                                 |                        |
 *                                       bucket aggregator (PRE)   bucket aggregator (POST),
 *                                       meters, spectrum          meters, spectrum, latency
 *                                       [Opus egress]             [Opus egress]
 *                                       [trace mix input]         [trace mix input]
 *
 * The clock is what differs between live audio (jitter/jitter-clock.ts: the adaptive
 * jitter buffer, played on the wall clock, concealing what is lost) and a recording
 * (recorded-clock.ts: played at once, at its capture times); every stage after it is the
 * same code for both. The station's jitter allowance (config jitterAllowanceMs, 60 ms by
 * default, for WebSocket ingest; 200 ms for RTP and WebRTC) is the largest delay the buffer
 * may aim at; a relay configured with one beyond
 * the buffer's 200 ms (tests and benchmarks that feed live stations faster than real time)
 * keeps the plain ingress queue of live-clock.ts instead. Egress encoders (egress.ts)
 * hang off a tap of a live station only while someone listens to it (`setEgress`), and so
 * does the input of its trace's mix (mixer.ts, hung on by the worker: `attachSink`).
 */
import type { CallQuality } from '../../../protocol/api.ts';
import type { KnobValues } from '../../../protocol/knobs.ts';
import type { BucketQos } from '../../../protocol/metrics.ts';
import { burstRatio, emodel, QOS_LEVELS, qosLevel } from '../../../protocol/qos.ts';
import { defaultSpectrumFftSize, type BandSpectrum } from '../../../worklets/dsp/spectrum.ts';
import { PROCESSING_FRAME_MS } from '../time/bucket-clock.ts';
import { BucketAggregator } from './bucket-aggregator.ts';
import { createDecoder, type FrameDecoder } from './codecs/decoder.ts';
import { CodecConcealment, concealsItself, WaveformConcealment, type Concealment } from './concealment.ts';
import { DecodeStage } from './decode-stage.ts';
import { EgressBatchWriter } from './egress-batch.ts';
import { EgressEncoder } from './egress.ts';
import { checkEgressOptions } from './egress-switch.ts';
import { Framer } from './framer.ts';
import { KnobStage } from './knob-stage.ts';
import type { LatencyHistogram } from './latency-histogram.ts';
import { LatencyProbe } from './latency-probe.ts';
import { bucketQos, callCounts, callQuality, countsSince, type CallCounts } from './jitter/call-quality.ts';
import { MAX_TARGET_MS, MIN_TARGET_MS, STREAM_MIN_TARGET_MS } from './jitter/delay-estimator.ts';
import { JitterClock } from './jitter/jitter-clock.ts';
import { LiveClock } from './live-clock.ts';
import { MeterInterval } from './meter-interval.ts';
import type { BucketRecord, IngestCounters, ScheduleRefusal, StationSpec, StationStats } from './messages.ts';
import type { PacketView } from './packet-batch.ts';
import { RecordedClock } from './recorded-clock.ts';
import { SegmentBuffers } from './segment-buffers.ts';
import type { Clock, Frame, StageStats, TapSink } from './stage.ts';
import type { EgressOptions } from './station-handle.ts';
import { Tap } from './tap.ts';
import { TransportQuality } from './transport-quality.ts';

/** Largest packet duration the decoder accepts (Opus allows up to 120 ms, RFC 6716 §3.2.5). */
const MAX_PACKET_MS = 120;

export interface StationEvents {
  bucket(record: BucketRecord): void;
  status(state: 'backpressure' | 'ok', droppedFrames: number, queueDepth: number): void;
  decodeError(code: string, message: string): void;
}

export class Station {
  readonly id: number;
  /** Meters over the current telemetry interval (published by the worker, seed 003). */
  readonly meterInterval = new MeterInterval();
  /** Live stations publish meters and spectra; a recording is not live. */
  readonly live: boolean;
  private readonly decoder: FrameDecoder;
  private readonly clock: Clock;
  /** The jitter buffer's clock of a live station (null for a recording, or a relay that keeps the plain queue). */
  private readonly jitter: JitterClock | null;
  /** Loss and jitter of the packets as they arrive (live stations only: a recording has no network timing). */
  private readonly quality: TransportQuality | null;
  private readonly decode: DecodeStage;
  private readonly concealment: Concealment;
  private readonly framer: Framer;
  private readonly pre: Tap;
  private readonly knobs: KnobStage;
  private readonly post: Tap;
  private readonly buckets: BucketAggregator;
  /** The listener egress encoder of each tap (PRE, POST), while it has one. */
  private readonly egress: [EgressEncoder | null, EgressEncoder | null] = [null, null];
  /** Encoder starts per tap: each packet carries its encoder's count (egress-batch.ts `generation`). */
  private readonly egressStarts = [0, 0];
  /** The bucket of the frames going through now. */
  private bucketTs = -Infinity;
  /** The jitter buffer's counts as each bucket's first frame went through, until the bucket is finalized. */
  private readonly bucketEntryCounts = new Map<number, CallCounts | null>();
  private enteredBucket = false;
  ended = false;
  /** Got packets in the batch the worker is handling (the worker's bookkeeping). */
  touched = false;

  constructor(
    readonly spec: StationSpec,
    events: StationEvents,
    latency: LatencyHistogram,
    buffers: SegmentBuffers = new SegmentBuffers(),
    /** Where egress packets go: the worker's batch, shared by its stations. */
    private readonly egressBatch: EgressBatchWriter = new EgressBatchWriter(),
  ) {
    const rate = spec.sampleRate;
    this.id = spec.id;
    this.live = spec.recorded === undefined;
    this.decoder = createDecoder(spec.codec, rate);
    this.framer = new Framer(rate, spec.bucketMs, spec.graceMs, (frame) => this.onFrame(frame));
    const maxPacketSamples = (rate * MAX_PACKET_MS) / 1000;
    this.concealment = concealsItself(this.decoder)
      ? new CodecConcealment(this.decoder, this.framer.frameSamples, maxPacketSamples)
      : new WaveformConcealment(this.framer.frameSamples, rate);
    this.decode = new DecodeStage(spec.codec, this.decoder, this.concealment, this.framer, maxPacketSamples, events.decodeError);
    this.quality = this.live ? new TransportQuality() : null;
    this.jitter = this.live && spec.jitterAllowanceMs <= MAX_TARGET_MS ? new JitterClock({ queueFrames: spec.queueFrames, minTargetMs: spec.streamed === true ? STREAM_MIN_TARGET_MS : MIN_TARGET_MS, maxTargetMs: spec.jitterAllowanceMs, graceMs: spec.graceMs, streamed: spec.streamed === true }, this.decode, events.status) : null;
    this.clock =
      this.jitter ??
      (this.live
        ? new LiveClock({ queueFrames: spec.queueFrames, jitterAllowanceMs: spec.jitterAllowanceMs }, this.decode, () => this.framer.playedMs, events.status)
        : new RecordedClock(this.decode));
    // A 43 ms spectrum window (2048 points at 48 kHz) rather than the kernel's 85 ms default:
    // half the FFT cost for hundreds of stations; bands below about 100 Hz then share bins.
    const fftSize = defaultSpectrumFftSize(rate) / 2;
    this.pre = new Tap(0, rate, fftSize, this.meterInterval);
    this.knobs = new KnobStage(rate, spec.knobs, spec.configVersion, spec.lastKnobEventId);
    this.post = new Tap(1, rate, fftSize, this.meterInterval);
    this.buckets = new BucketAggregator(spec, buffers, () => this.counters(), events.bucket, [this.pre.meter.loudness, this.post.meter.loudness], (ts) => this.bucketQos(ts));
    this.pre.attach(this.buckets.pre);
    this.post.attach(this.buckets.post);
    if (this.live) this.post.attach(new LatencyProbe(latency));
  }

  enqueue(p: PacketView, nowMs: number): void {
    if (this.ended) return;
    this.quality?.observe(p.sequence, p.timestampMs, p.arrivalMs);
    this.framer.releasedMs = nowMs;
    this.clock.push(p, nowMs);
  }

  /** Lets the clock release what is due (after a batch of packets). */
  pump(nowMs: number): void {
    this.framer.releasedMs = nowMs;
    this.clock.release(nowMs);
  }

  /** Periodic work: the clock, buckets that are complete, status messages. */
  tick(nowMs: number): void {
    this.framer.releasedMs = nowMs;
    this.clock.tick(nowMs);
    this.quality?.roll(nowMs);
    this.buckets.finalizeComplete(this.clock.now(nowMs));
  }

  /** Stop or disconnect: everything accepted is processed; buckets finalize as they complete. */
  end(nowMs: number): void {
    if (this.ended) return;
    this.ended = true;
    this.framer.releasedMs = nowMs;
    this.clock.end();
    this.framer.end();
    // The last frame went to the listeners too: nothing more will come for them.
    this.stopEgress(0);
    this.stopEgress(1);
    this.buckets.finalizeComplete(this.clock.now(nowMs));
  }

  /** SIGTERM: process everything accepted and finalize every bucket now. */
  flush(nowMs: number): void {
    this.end(nowMs);
    this.buckets.finalizeComplete(Infinity);
  }

  /** True once an ended station has nothing left to finalize. */
  get finished(): boolean {
    return this.ended && this.buckets.idle;
  }

  /** Schedules a full knob set for the first sample of `applyAtBucketTs` (knob-stage.ts). */
  schedule(applyAtBucketTs: number, knobs: KnobValues, configVersion: number, eventId: number): ScheduleRefusal | null {
    if (this.ended) return 'station_ended';
    return this.knobs.schedule({ applyAtBucketTs, knobs, configVersion, eventId }, this.framer.currentBucketTs());
  }

  /**
   * Listener egress on a tap (0 PRE, 1 POST; egress.ts). Options start an encoder, or retune
   * the running one (bitrate, complexity: the same stream goes on, its sequence too); null
   * stops and frees it. A start after a stop is a fresh encoder whose sequence starts again
   * at 0 (the control plane rebuilds its muxer then), and its first packets are the tap's
   * last `historyMs` of audio the buckets still hold (egress.ts, history). Ignored by a
   * recorded run (an upload replayed faster than real time has no listeners) and by an
   * ended station. Throws
   * RangeError or TypeError for bad options, before anything changes.
   */
  setEgress(tap: 0 | 1, options: EgressOptions | null): void {
    if (tap !== 0 && tap !== 1) throw new RangeError(`tap must be 0 (PRE) or 1 (POST), got ${String(tap)}`);
    if (options !== null) checkEgressOptions(options);
    if (!this.live || this.ended) return;
    const running = this.egress[tap];
    if (options === null) {
      this.stopEgress(tap);
      return;
    }
    if (running !== null) {
      running.configure(options);
      return;
    }
    // Counted before the encoder exists, so the count agrees with the control plane's even if this throws.
    const generation = ++this.egressStarts[tap];
    const encoder = new EgressEncoder(this.id, tap, generation, this.spec.sampleRate, options, this.egressBatch);
    this.egress[tap] = encoder;
    const historyFrames = Math.floor((options.historyMs ?? 0) / PROCESSING_FRAME_MS);
    if (historyFrames > 0) {
      // One frame's buffer for this start only: the audio itself is read from the buckets.
      const frame: Frame = { samples: new Float32Array(this.framer.frameSamples), length: 0, bucketTs: 0, offset: 0, arrivalMs: 0, concealed: false };
      encoder.encodeHistory(this.buckets.recentFrames(tap, historyFrames, frame));
    }
    (tap === 0 ? this.pre : this.post).attach(encoder);
  }

  /** The station's rate, Hz. */
  get sampleRate(): number {
    return this.spec.sampleRate;
  }

  /** Hangs a sink off a tap (0 PRE, 1 POST) from the next frame on: its trace's mix (mixer.ts). */
  attachSink(tap: 0 | 1, sink: TapSink): void {
    (tap === 0 ? this.pre : this.post).attach(sink);
  }

  /** Takes a sink off a tap again (between frames); false if it was not there. */
  detachSink(tap: 0 | 1, sink: TapSink): boolean {
    return (tap === 0 ? this.pre : this.post).detach(sink);
  }

  /** The bucket of the next sample to be processed (null before the first). */
  currentBucketTs(): number | null {
    return this.framer.currentBucketTs();
  }

  get queueDepth(): number {
    return this.clock.depth;
  }

  get framesDropped(): number {
    return this.clock.counters.frames_dropped;
  }

  get decodeErrors(): number {
    return this.decode.counters.decode_errors;
  }

  get currentConfigVersion(): number {
    return this.knobs.inForce.configVersion;
  }

  /** Band spectra of the PRE and POST taps (seed 003 WS-3), computed on the worker's schedule. */
  get spectra(): readonly [BandSpectrum, BandSpectrum] {
    return [this.pre.spectrum, this.post.spectrum];
  }

  counters(): IngestCounters {
    const { frames_received, bytes_received, frames_dropped } = this.clock.counters;
    return {
      frames_received,
      bytes_received,
      frames_dropped,
      decode_errors: this.decode.counters.decode_errors,
      frames_concealed: this.concealment.framesConcealed,
      resyncs: this.framer.resyncs,
      late_frames: this.buckets.lateFrames,
      // Behind the jitter buffer, duplicates and packets after their play-out time are its to discard.
      frames_out_of_order: this.decode.counters.frames_out_of_order + (this.jitter ? this.jitter.buffer.counters.duplicates + this.jitter.buffer.counters.late : 0),
    };
  }

  stats(): StationStats {
    const quality = this.quality?.figures() ?? null;
    return { id: this.id, queueDepth: this.clock.depth, counters: this.counters(), configVersion: this.currentConfigVersion, ended: this.ended, quality, call: this.callQuality() };
  }

  /**
   * Call quality now, for the meters (protocol/telemetry.ts QosMeters): loss over the
   * arrival window, RFC 3550 jitter, the buffer's current delay, and the E-model's MOS and
   * level of those. Written into `out` from `offset` (QOS_METER_FIELDS order, the level as
   * its index in QOS_LEVELS); NaN throughout for a station without a jitter buffer.
   */
  writeQos(out: Float64Array, offset: number): void {
    if (this.jitter === null || this.quality === null) {
      out.fill(Number.NaN, offset, offset + 5);
      return;
    }
    const t = this.quality.figures();
    const delay = this.jitter.buffer.currentDelayMs;
    const c = this.jitter.buffer.counters;
    const burstR = burstRatio(c.played, c.lost, this.jitter.lossRuns);
    const { mos } = emodel({ codec: this.spec.codec, delayMs: delay === null ? null : Math.max(0, delay), lossPercent: t.lossPercent ?? 0, burstR });
    const level = qosLevel({ latencyMs: delay, lossPercent: t.lossPercent, jitterMs: t.jitterMs, mos });
    out[offset] = mos;
    out[offset + 1] = QOS_LEVELS.indexOf(level);
    out[offset + 2] = t.lossPercent ?? Number.NaN;
    out[offset + 3] = t.jitterMs ?? Number.NaN;
    out[offset + 4] = delay ?? Number.NaN;
  }

  /**
   * Call quality over a bucket being finalized: from the jitter buffer's counts as its first
   * frame went through to those as the next bucket's did (or now, for the station's last).
   */
  private bucketQos(bucketTs: number): BucketQos | null {
    const start = this.bucketEntryCounts.get(bucketTs);
    if (this.jitter === null || start === undefined) return null;
    let end: CallCounts | undefined;
    for (const [ts, counts] of this.bucketEntryCounts) {
      if (ts < bucketTs) this.bucketEntryCounts.delete(ts);
      else if (ts > bucketTs && end === undefined && counts !== null) end = counts;
    }
    this.bucketEntryCounts.delete(bucketTs);
    const counts = countsSince(end ?? callCounts(this.jitter), start);
    return bucketQos(this.spec.codec, counts, this.jitter.buffer.targetMs, this.quality?.figures().jitterMs ?? null);
  }

  /** Call-quality figures since the station started (live stations behind the jitter buffer; null otherwise). */
  callQuality(): CallQuality | null {
    if (this.jitter === null) return null;
    return callQuality(this.spec.codec, callCounts(this.jitter), this.jitter.buffer.targetMs, this.quality?.figures().jitterMs ?? null);
  }

  /** Every stage's own description, for debugging. */
  stages(): Record<string, StageStats> {
    return {
      ...(this.quality ? { transport_quality: this.quality.stats() } : {}),
      clock: this.clock.stats(),
      decode: this.decode.stats(),
      concealment: this.concealment.stats(),
      framer: this.framer.stats(),
      pre: this.pre.stats(),
      knobs: this.knobs.stats(),
      post: this.post.stats(),
      buckets: this.buckets.stats(),
      egress_pre: this.egress[0]?.stats() ?? { tap: 'PRE', enabled: false },
      egress_post: this.egress[1]?.stats() ?? { tap: 'POST', enabled: false },
    };
  }

  close(): void {
    this.stopEgress(0);
    this.stopEgress(1);
    this.decoder.close();
  }

  private stopEgress(tap: 0 | 1): void {
    const encoder = this.egress[tap];
    if (encoder === null) return;
    (tap === 0 ? this.pre : this.post).detach(encoder);
    encoder.close();
    this.egress[tap] = null;
  }

  private onFrame(frame: Frame): void {
    if (frame.bucketTs !== this.bucketTs) {
      this.bucketTs = frame.bucketTs;
      // The first bucket counts from the start: what arrived before its first frame played is its own.
      if (this.jitter !== null) this.bucketEntryCounts.set(frame.bucketTs, this.enteredBucket ? callCounts(this.jitter) : null);
      this.enteredBucket = true;
      this.knobs.enterBucket(frame.bucketTs);
      const k = this.knobs.inForce;
      this.buckets.enterBucket(frame.bucketTs, k.knobs, k.configVersion, k.lastKnobEventId);
    }
    this.pre.process(frame);
    this.knobs.process(frame);
    this.post.process(frame);
  }
}
