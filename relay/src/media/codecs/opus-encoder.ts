/**
 * Opus encoding (RFC 6716), two ways:
 *
 * - `OpusStreamEncoder`, listener egress in the media workers (egress.ts): 20 ms Float32
 *   frames at a station's rate in, 20 ms packets of a 48 kHz mono Opus stream out, written
 *   into the caller's buffer, on libopus's C API (libopus.ts, the one wasm instance the
 *   thread's decoders use too). Nothing is allocated per packet.
 * - `OpusFrameEncoder`, for the simulator, tests and benchmarks: 16-bit frames at an Opus
 *   rate, a new packet per call, on @evan/opus's own encoder (its native build where it
 *   loads). It loads that package on first use, so a media worker that only encodes egress
 *   never loads a second copy of libopus.
 *
 * Application: OPUS_APPLICATION_AUDIO, not VOIP. Listeners hear speech and music, and an
 * operator compares PRE with POST to judge the knob chain: VOIP mode adds its own high-pass
 * filter and favours intelligibility over fidelity, which would colour both taps and mask
 * what the chain's HPF does. AUDIO still codes speech with SILK or hybrid modes at low
 * bitrates (libopus's signal detection stays on auto), and both modes have the same 6.5 ms
 * lookahead.
 *
 * Input rates: Opus takes 8, 12, 16, 24 and 48 kHz directly (the decoder of the stream
 * still decodes at 48 kHz); a station at another rate (the relay takes any rate from 8000
 * to 48000 Hz with whole samples in 20 ms: 44100, 32000, 22050, ...) is converted to
 * 48 kHz first by worklets/dsp/resampler.ts (band-limited, passband to 0.40 of the
 * station's rate, exactly 960 output samples per 20 ms frame).
 */
import { createRequire } from 'node:module';
import type { Encoder as EvanEncoder } from '@evan/opus';
import { Resampler } from '../../../../worklets/dsp/resampler.ts';
import { OPUS_SAMPLE_RATES, type OpusSampleRate } from './decoder.ts';
import { LibopusEncoder, MAX_ENCODED_FRAME_BYTES, type OpusApplication } from './libopus.ts';

/** opus_encoder_ctl requests (opus_defines.h). */
const OPUS_SET_BITRATE_REQUEST = 4002;
const OPUS_SET_COMPLEXITY_REQUEST = 4010;
const OPUS_GET_LOOKAHEAD_REQUEST = 4027;

/** Bitrates libopus honours for mono, bit/s (below 6000 it clamps silently to 500). */
export const OPUS_MIN_BITRATE = 6000;
export const OPUS_MAX_BITRATE = 510_000;
/** OPUS_SET_COMPLEXITY: 0 (fastest) to 10 (best). */
export const OPUS_MAX_COMPLEXITY = 10;
/** The frame every egress packet holds, ms. */
export const STREAM_FRAME_MS = 20;
/** The rate of the stream the packets make (RFC 7587 §4.1: Opus's RTP clock is always 48 kHz). */
export const STREAM_SAMPLE_RATE = 48000;
/** The room one packet may take in the caller's buffer, bytes. */
export const MAX_STREAM_PACKET_BYTES = MAX_ENCODED_FRAME_BYTES;

export interface OpusStreamOptions {
  /** Target bitrate, bit/s: an integer from 6000 to 510000 (VBR around it). */
  bitrate: number;
  /** OPUS_SET_COMPLEXITY: an integer from 0 to 10 (5 costs about a third of 10). */
  complexity: number;
}

/** Checks options before they reach an encoder: TypeError for a non-number, RangeError for a value out of range. */
export function checkOpusStreamOptions(options: OpusStreamOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`Opus options must be an object { bitrate, complexity }, got ${String(options)}`);
  const { bitrate, complexity } = options;
  if (typeof bitrate !== 'number') throw new TypeError(`bitrate must be a number of bit/s, got ${typeof bitrate}`);
  if (!Number.isInteger(bitrate) || bitrate < OPUS_MIN_BITRATE || bitrate > OPUS_MAX_BITRATE) {
    throw new RangeError(`bitrate must be an integer from ${OPUS_MIN_BITRATE} to ${OPUS_MAX_BITRATE} bit/s, got ${bitrate}`);
  }
  if (typeof complexity !== 'number') throw new TypeError(`complexity must be a number, got ${typeof complexity}`);
  if (!Number.isInteger(complexity) || complexity < 0 || complexity > OPUS_MAX_COMPLEXITY) {
    throw new RangeError(`complexity must be an integer from 0 to ${OPUS_MAX_COMPLEXITY}, got ${complexity}`);
  }
}

/** Checks a station's rate: an integer from 8000 to 48000 Hz with whole samples in 20 ms. */
export function checkStreamInputRate(sampleRate: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000 || (sampleRate * STREAM_FRAME_MS) % 1000 !== 0) {
    throw new RangeError(`sampleRate must be an integer from 8000 to 48000 Hz with whole samples in ${STREAM_FRAME_MS} ms, got ${sampleRate}`);
  }
}

/** 20 ms Float32 frames at a station's rate -> 20 ms packets of one 48 kHz mono Opus stream. */
export class OpusStreamEncoder {
  /** Input samples per 20 ms frame. */
  readonly frameSamples: number;
  /** The rate libopus is fed: the station's if Opus takes it, else 48000 after the resampler. */
  readonly encoderRate: OpusSampleRate;
  /**
   * How far the decoded stream lags the input, in 48 kHz samples: libopus's lookahead (312)
   * plus the resampler's delay. An OpusHead pre-skip of this much lines the decoded audio up
   * with the frames' timestamps.
   */
  readonly delaySamples48k: number;
  private encoder: LibopusEncoder | null;
  private readonly resampler: Resampler | null;
  /** The resampler's output: one 20 ms frame at 48 kHz. */
  private readonly resampled: Float32Array | null;
  /** A short (last) frame, padded with silence. */
  private readonly padded: Float32Array;
  private options: OpusStreamOptions;

  /** @param sampleRate the input rate, Hz: 8000 to 48000 with whole samples in 20 ms. */
  constructor(
    readonly sampleRate: number,
    options: OpusStreamOptions,
    application: OpusApplication = 'audio',
  ) {
    checkStreamInputRate(sampleRate);
    checkOpusStreamOptions(options);
    if (application !== 'audio' && application !== 'voip') throw new RangeError(`application must be 'audio' or 'voip', got ${String(application)}`);
    this.frameSamples = (sampleRate * STREAM_FRAME_MS) / 1000;
    const direct = (OPUS_SAMPLE_RATES as readonly number[]).includes(sampleRate);
    this.encoderRate = (direct ? sampleRate : STREAM_SAMPLE_RATE) as OpusSampleRate;
    this.resampler = direct ? null : new Resampler(sampleRate, STREAM_SAMPLE_RATE, this.frameSamples);
    this.resampled = direct ? null : new Float32Array((STREAM_SAMPLE_RATE * STREAM_FRAME_MS) / 1000);
    this.padded = new Float32Array(this.frameSamples);
    this.encoder = new LibopusEncoder(this.encoderRate, application);
    this.options = { ...options };
    this.encoder.set(OPUS_SET_BITRATE_REQUEST, options.bitrate);
    this.encoder.set(OPUS_SET_COMPLEXITY_REQUEST, options.complexity);
    const lookahead48k = (this.encoder.get(OPUS_GET_LOOKAHEAD_REQUEST) * STREAM_SAMPLE_RATE) / this.encoderRate;
    const resampler48k = this.resampler === null ? 0 : (this.resampler.delaySamples * STREAM_SAMPLE_RATE) / sampleRate;
    this.delaySamples48k = Math.round(lookahead48k + resampler48k);
  }

  /** The bitrate and complexity in force. */
  get current(): Readonly<OpusStreamOptions> {
    return this.options;
  }

  /** Changes bitrate and complexity from the next packet on (the stream goes on: same format, no restart). */
  configure(options: OpusStreamOptions): void {
    checkOpusStreamOptions(options);
    const enc = this.live();
    if (options.bitrate !== this.options.bitrate) enc.set(OPUS_SET_BITRATE_REQUEST, options.bitrate);
    if (options.complexity !== this.options.complexity) enc.set(OPUS_SET_COMPLEXITY_REQUEST, options.complexity);
    this.options = { ...options };
  }

  /**
   * Encodes samples[0..length) (one 20 ms frame; fewer samples only for a station's last
   * frame, padded with silence) into dst from dstOffset, which must have room for
   * MAX_STREAM_PACKET_BYTES: the packet's length. Throws LibopusError if libopus fails.
   */
  encode(samples: Float32Array, length: number, dst: Uint8Array, dstOffset: number): number {
    const enc = this.live();
    const n = this.frameSamples;
    if (!(length > 0 && length <= n && length <= samples.length)) throw new RangeError(`a frame holds 1 to ${n} samples, got ${length} (of ${samples.length})`);
    let src = samples;
    if (length < n) {
      src = this.padded;
      for (let i = 0; i < length; i++) src[i] = samples[i];
      src.fill(0, length);
    }
    if (this.resampler !== null) {
      const out = this.resampled as Float32Array;
      this.resampler.process(src, n, out); // exactly 960: 20 ms in, 20 ms out
      return enc.encode(out, 0, out.length, dst, dstOffset, MAX_STREAM_PACKET_BYTES);
    }
    return enc.encode(src, 0, n, dst, dstOffset, MAX_STREAM_PACKET_BYTES);
  }

  /** Frees libopus's state; safe to call twice. */
  close(): void {
    this.encoder?.close();
    this.encoder = null;
  }

  private live(): LibopusEncoder {
    if (this.encoder === null) throw new Error('OpusStreamEncoder used after close()');
    return this.encoder;
  }
}

export interface OpusEncoderOptions {
  /** Input rate in Hz: one of OPUS_SAMPLE_RATES. */
  sampleRate: number;
  /** Target bitrate in bit/s; default 32000. */
  bitrate?: number;
  /** Frame duration in ms; default 20. */
  frameMs?: 10 | 20 | 40 | 60;
  /** libopus application; default 'voip' (seed 004 §4.2). */
  application?: 'voip' | 'audio';
  /** In-band FEC (seed 004: `opus_fec`), with the loss rate the encoder plans for, percent; default off. */
  inbandFecLossPercent?: number;
}

/** @evan/opus's Encoder class, loaded on first use. */
let EvanEncoderClass: typeof EvanEncoder | null = null;

/** Encodes mono 16-bit PCM frames to Opus packets (for the simulator and tests). */
export class OpusFrameEncoder {
  readonly sampleRate: OpusSampleRate;
  /** Samples per input frame. */
  readonly frameSamples: number;
  /** Encoder delay in samples at sampleRate: decoded audio lags the input by this much. */
  readonly lookaheadSamples: number;
  private encoder: EvanEncoder | null;

  constructor(opts: OpusEncoderOptions) {
    const { sampleRate, bitrate = 32000, frameMs = 20, application = 'voip', inbandFecLossPercent } = opts;
    if (!(OPUS_SAMPLE_RATES as readonly number[]).includes(sampleRate)) {
      throw new TypeError(`Opus encodes at ${OPUS_SAMPLE_RATES.join(', ')} Hz, not ${sampleRate}`);
    }
    if (![10, 20, 40, 60].includes(frameMs)) throw new TypeError(`frameMs must be 10, 20, 40 or 60, got ${frameMs}`);
    if (!Number.isInteger(bitrate) || bitrate < 6000 || bitrate > 510000) {
      throw new TypeError(`bitrate must be an integer from 6000 to 510000 bit/s, got ${bitrate}`);
    }
    this.sampleRate = sampleRate as OpusSampleRate;
    this.frameSamples = (sampleRate * frameMs) / 1000;
    EvanEncoderClass ??= (createRequire(import.meta.url)('@evan/opus') as { Encoder: typeof EvanEncoder }).Encoder;
    const encoder = new EvanEncoderClass({ channels: 1, sample_rate: this.sampleRate, application });
    encoder.bitrate = bitrate;
    if (inbandFecLossPercent !== undefined) {
      encoder.inband_fec = true;
      encoder.packet_loss = inbandFecLossPercent;
    }
    this.lookaheadSamples = encoder.ctl(OPUS_GET_LOOKAHEAD_REQUEST);
    this.encoder = encoder;
  }

  /** Encodes exactly one frame of frameSamples samples; the packet is the caller's to keep. */
  encode(frame: Int16Array): Uint8Array {
    if (this.encoder === null) throw new Error('OpusFrameEncoder.encode() called after close()');
    if (frame.length !== this.frameSamples) throw new TypeError(`frame must hold ${this.frameSamples} samples, got ${frame.length}`);
    return this.encoder.encode(frame);
  }

  close(): void {
    if (this.encoder === null) return;
    (this.encoder as { drop?: () => void }).drop?.();
    this.encoder = null;
  }
}
