/**
 * Decoding: packets in order of release in, samples out to the framer.
 *
 * Behind a clock that only releases (a recording, `process`), sequence numbers tell losses
 * from reordering: a gap of up to MAX_CONCEALED_PACKETS is concealed before the packet
 * that revealed it (concealment.ts); a duplicate or a packet older than audio already
 * played is discarded, never decoded (it would corrupt the decoder's state); a longer gap,
 * or one the clock made by dropping packets, is a discontinuity, not a loss.
 *
 * Behind a jitter buffer (`play`, `conceal`), the buffer has already put packets in order
 * and decided what was lost or is to be inserted: this stage decodes what it is given and
 * conceals what it is told to, nothing more.
 */
import { CODEC_IDS, codecName, sequenceDelta } from '../../../protocol/frame.ts';
import type { IngestCodec } from '../../../protocol/ingest.ts';
import { DecodeError, type FrameDecoder } from './codecs/decoder.ts';
import type { Concealment } from './concealment.ts';
import { packetDuration } from './jitter/packet-duration.ts';
import type { PacketView } from './packet-batch.ts';
import type { PacketStage, SampleSink, StageStats } from './stage.ts';

/** Sequence gaps up to this many packets are concealed; longer ones are a discontinuity. */
export const MAX_CONCEALED_PACKETS = 10;
/**
 * Where the jitter buffer drops a packet to shrink its delay, the next packet's first
 * samples are crossfaded from the dropped packet's first ones (which follow on from what
 * played before) over this long, ms: the splice has no step, so no click.
 */
export const SPLICE_FADE_MS = 5;

export interface DecodeCounters {
  decode_errors: number;
  /** Packets discarded as duplicates or older than audio already played. */
  frames_out_of_order: number;
}

export class DecodeStage implements PacketStage {
  readonly counters: DecodeCounters = { decode_errors: 0, frames_out_of_order: 0 };
  private readonly codecId: number;
  private readonly buf: Float32Array;
  /** A dropped packet's audio, for the crossfade into the next one (playAfterDrop). */
  private readonly dropped: Float32Array;
  private readonly sampleRate: number;
  private readonly maxPacketMs: number;
  private lastSequence = -1;
  private lastPacketSamples = 0;
  /** The next packet follows a gap that is not a loss: do not conceal before it. */
  private resync = true;

  constructor(
    private readonly codec: IngestCodec,
    private readonly decoder: FrameDecoder,
    private readonly concealment: Concealment,
    private readonly next: SampleSink,
    /** The longest packet accepted, samples (120 ms: Opus's maximum, RFC 6716 §3.2.5). */
    maxPacketSamples: number,
    private readonly onError: (code: string, message: string) => void,
  ) {
    this.codecId = CODEC_IDS[codec];
    this.buf = new Float32Array(maxPacketSamples);
    this.dropped = new Float32Array(maxPacketSamples);
    this.sampleRate = decoder.sampleRate;
    this.maxPacketMs = (maxPacketSamples / decoder.sampleRate) * 1000;
  }

  /**
   * The packet's duration, ms, read from its payload, or null after reporting it as a
   * decode error (wrong codec, a payload the decoder would refuse): a jitter buffer places
   * packets by duration before they are decoded, and must not hold one that cannot play.
   */
  duration(p: PacketView): number | null {
    if (p.codec !== this.codecId) {
      this.error('codec_mismatch', `frame codec ${codecName(p.codec) ?? p.codec} does not match the station's ${this.codec}`);
      return null;
    }
    const d = packetDuration(p.codec, p.payload, this.sampleRate, this.maxPacketMs);
    if (!d.ok) {
      this.error(d.code, `sequence ${p.sequence}: ${d.message}`);
      return null;
    }
    return d.durationMs;
  }

  /**
   * Decodes a packet the jitter buffer released in play-out order. One that fails to decode
   * is concealed for `durationMs`: its time is played either way.
   */
  play(p: PacketView, durationMs: number): void {
    this.playFadingFrom(p, durationMs, 0);
  }

  /**
   * Plays `p` in place of `dropped` and itself: the jitter buffer took `dropped` out to
   * shrink its delay. The dropped packet is still decoded, so a decoder that predicts from
   * what came before (Opus, G.722) follows the stream, and `p`'s first SPLICE_FADE_MS are
   * crossfaded from it (equal-power would not suit: the two are correlated at the splice).
   */
  playAfterDrop(dropped: PacketView, p: PacketView, durationMs: number): void {
    let fade = 0;
    try {
      fade = Math.min(this.decoder.decode(dropped.payload, this.dropped), Math.round((SPLICE_FADE_MS * this.sampleRate) / 1000));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.error(err.code, `sequence ${dropped.sequence}: ${err.message}`);
    }
    this.playFadingFrom(p, durationMs, fade);
  }

  /** Decodes `p` and hands its samples on, the first `fade` crossfaded from `this.dropped`'s. */
  private playFadingFrom(p: PacketView, durationMs: number, fade: number): void {
    let samples: number;
    try {
      samples = this.decoder.decode(p.payload, this.buf);
    } catch (err) {
      if (err instanceof DecodeError) {
        this.error(err.code, `sequence ${p.sequence}: ${err.message}`);
        this.conceal(durationMs, undefined, p.arrivalMs);
        return;
      }
      throw err;
    }
    this.lastSequence = p.sequence;
    this.lastPacketSamples = samples;
    const n = Math.min(fade, samples);
    for (let i = 0; i < n; i++) {
      const w = (i + 0.5) / n;
      this.buf[i] = this.dropped[i] * (1 - w) + this.buf[i] * w;
    }
    this.concealment.decoded(this.buf, samples);
    this.next.write(this.buf, samples, p.arrivalMs, false);
  }

  /**
   * Plays `durationMs` of concealment where the jitter buffer has no packet (a loss) or
   * inserts a frame (to grow its delay); `next` is the packet after a loss when held, for
   * Opus's in-band FEC. `atMs` is when it plays (the framer's arrival time for it).
   */
  conceal(durationMs: number, next: Uint8Array | undefined, atMs: number): void {
    const samples = Math.round((durationMs * this.sampleRate) / 1000);
    if (samples <= 0) return;
    this.concealment.fill(1, samples, next, atMs, this.next);
  }

  process(p: PacketView): void {
    if (p.codec !== this.codecId) {
      this.error('codec_mismatch', `frame codec ${codecName(p.codec) ?? p.codec} does not match the station's ${this.codec}`);
      return;
    }
    if (!this.resync && this.lastSequence >= 0) {
      const delta = sequenceDelta(this.lastSequence, p.sequence);
      if (delta <= 0) {
        this.counters.frames_out_of_order++;
        return;
      }
      const lost = delta - 1;
      if (lost > 0 && lost <= MAX_CONCEALED_PACKETS) this.concealment.fill(lost, this.lastPacketSamples, p.payload, p.arrivalMs, this.next);
      // The lost ones are played: if this packet fails to decode, the next one conceals it alone.
      this.lastSequence = (p.sequence + 0xffff) & 0xffff;
    }
    let samples: number;
    try {
      samples = this.decoder.decode(p.payload, this.buf);
    } catch (err) {
      if (err instanceof DecodeError) {
        this.error(err.code, `sequence ${p.sequence}: ${err.message}`);
        return;
      }
      throw err;
    }
    this.resync = false;
    this.lastSequence = p.sequence;
    this.lastPacketSamples = samples;
    this.concealment.decoded(this.buf, samples);
    this.next.write(this.buf, samples, p.arrivalMs, false);
  }

  discontinuity(): void {
    this.resync = true;
  }

  stats(): StageStats {
    return { ...this.counters, last_sequence: this.lastSequence, codec: this.codec };
  }

  private error(code: string, message: string): void {
    this.counters.decode_errors++;
    this.onError(code, message);
  }
}
