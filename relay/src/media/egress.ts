/**
 * Listener egress: an Opus encoder hung off a tap (PRE or POST) of a live station, while
 * the station has listeners on that tap. Each 20 ms frame of the tap becomes one 20 ms
 * packet of a 48 kHz mono Opus stream (codecs/opus-encoder.ts: 48 kHz in directly, other
 * rates resampled to exactly 960 samples per frame), written straight into the worker's
 * egress batch (egress-batch.ts), which the worker posts once per flush. The control plane
 * encodes nothing and fans the packets out to listeners; one encoder serves every listener
 * of a (station, tap).
 *
 * History (`historyMs`, egress-switch.ts): a station's first listener would otherwise wait
 * as long as the player buffers (about 1 s for MSE) for that much audio to be played. So
 * an encoder that starts fresh first encodes the tap's most recent audio the bucket
 * aggregator still holds (`encodeHistory`, fed by BucketAggregator.recentFrames: no copy
 * of the audio is kept for it) and sends those packets at once, flagged `history`, ahead of
 * the live ones, through the same path: the resampler and libopus state run on from the
 * last history frame into the first live one, so the stream has no seam. The history is
 * the run without a gap that ends at the last frame played (a station that started 300 ms
 * ago gives 15 packets, not 50 with silence before them; one that resynced gives what
 * followed the jump). The cost is once per start: 1 s of history is 50 packets, at 59 µs
 * each (`npm run bench:pipeline -- --egress post`, complexity 5) about 3 ms of the worker's
 * time (more for 5 s, or a resampled rate).
 *
 * Each packet carries
 * - `history`: true for the packets encoded at the start from audio already played;
 * - `sequence`: 0, 1, 2, ... from this encoder's start (a fresh encoder starts again at 0);
 *   it counts packets made, so a frame libopus failed on leaves no gap in it (its time
 *   does, and the error is counted);
 * - `timestampMs`: the media time of the frame's first sample on the station's bucket grid,
 *   bucketTs + offset / rate (ARCHITECTURE.md "Time"): steps of 20 ms, and a jump where the
 *   station's timeline moved forward after a stall (framer.ts, resync);
 * - `arrivalMs`: when the newest ingest packet in the frame arrived on the relay, for the
 *   ingest-to-send latency (for history, the newest frame's arrival at the start: the
 *   older arrivals are not kept).
 * The decoded stream lags these timestamps by `delaySamples48k` (libopus's lookahead, and
 * the resampler's delay at other rates): the OpusHead pre-skip that lines them up.
 *
 * Concealed frames are encoded like any other: a listener hears what the meters measured.
 * A station's last frame, if short, is padded with silence into a whole packet.
 */
import { MAX_STREAM_PACKET_BYTES, OpusStreamEncoder, type OpusStreamOptions } from './codecs/opus-encoder.ts';
import type { EgressBatchWriter } from './egress-batch.ts';
import type { Frame, Stage, StageStats, TapSink } from './stage.ts';

export class EgressEncoder implements TapSink, Stage {
  private readonly encoder: OpusStreamEncoder;
  private readonly msPerSample: number;
  private sequence = 0;
  private packets = 0;
  private historyPackets = 0;
  /** A live frame came: history may no longer be encoded. */
  private live = false;
  private bytes = 0;
  private encodeErrors = 0;
  private lastError: string | null = null;
  private closed = false;

  constructor(
    readonly stationId: number,
    /** 0 for PRE, 1 for POST. */
    readonly tap: 0 | 1,
    /** Counts this tap's encoder starts (egress-batch.ts): how the control plane tells an old encoder's packets apart. */
    readonly generation: number,
    sampleRate: number,
    options: OpusStreamOptions,
    private readonly batch: EgressBatchWriter,
  ) {
    this.encoder = new OpusStreamEncoder(sampleRate, options);
    this.msPerSample = 1000 / sampleRate;
  }

  /** The bitrate and complexity in force. */
  get options(): Readonly<OpusStreamOptions> {
    return this.encoder.current;
  }

  /** See OpusStreamEncoder.delaySamples48k. */
  get delaySamples48k(): number {
    return this.encoder.delaySamples48k;
  }

  /** New bitrate and complexity from the next packet on; the sequence goes on. */
  configure(options: OpusStreamOptions): void {
    this.encoder.configure(options);
  }

  /**
   * Encodes audio the tap has already played, oldest first, as history packets: only before
   * the first live frame (throws after it), and for frames that end where the live ones
   * begin (BucketAggregator.recentFrames gives those). Returns the packets made.
   */
  encodeHistory(frames: Iterable<Frame>): number {
    if (this.closed) return 0;
    if (this.live) throw new Error('history must come before the first live frame');
    const before = this.packets;
    for (const frame of frames) this.encodeFrame(frame, true);
    this.historyPackets += this.packets - before;
    return this.packets - before;
  }

  consume(frame: Frame): void {
    if (this.closed) return;
    this.live = true;
    this.encodeFrame(frame, false);
  }

  private encodeFrame(frame: Frame, history: boolean): void {
    const { target, offset } = this.batch.reserve(MAX_STREAM_PACKET_BYTES);
    let length: number;
    try {
      length = this.encoder.encode(frame.samples, frame.length, target, offset);
    } catch (err) {
      // Counted, never thrown into the station's pipeline: the meters and buckets go on.
      this.encodeErrors++;
      this.lastError = err instanceof Error ? err.message : String(err);
      return;
    }
    const timestampMs = frame.bucketTs + frame.offset * this.msPerSample;
    this.batch.commit(this.stationId, this.tap, this.generation, this.sequence, timestampMs, frame.arrivalMs, length, history);
    this.sequence++;
    this.packets++;
    this.bytes += length;
  }

  /** Frees the encoder; later frames are ignored. Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.encoder.close();
  }

  stats(): StageStats {
    const { bitrate, complexity } = this.encoder.current;
    return {
      tap: this.tap === 0 ? 'PRE' : 'POST',
      bitrate,
      complexity,
      encoder_rate: this.encoder.encoderRate,
      packets: this.packets,
      history_packets: this.historyPackets,
      bytes: this.bytes,
      encode_errors: this.encodeErrors,
      last_error: this.lastError,
      enabled: !this.closed,
    };
  }
}
