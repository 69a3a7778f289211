/**
 * One decoding interface for every ingest codec (seed 004 §4): a payload in, float samples
 * (±1.0 full scale) out into a buffer the caller owns and reuses, or a DecodeError with a
 * stable code. The caller sizes `out` for the longest frame it accepts (120 ms, Opus's
 * maximum packet duration, RFC 6716 §3.2.5); a longer payload is refused, never truncated.
 */

import { decodeAlaw, decodeMulaw } from './g711.ts';
import { G722_SAMPLE_RATE, G722FrameDecoder } from './g722-frame-decoder.ts';
import { OpusFrameDecoder } from './opus.ts';

/** Rates a libopus decoder can produce (RFC 6716 §2; opus_decoder_create). */
export const OPUS_SAMPLE_RATES = [8000, 12000, 16000, 24000, 48000] as const;
export type OpusSampleRate = (typeof OPUS_SAMPLE_RATES)[number];

export type DecodeErrorCode =
  /** The codec rejected the payload as corrupt (libopus OPUS_INVALID_PACKET and friends). */
  | 'decode_failed'
  /** The payload's length is impossible for the codec (odd pcm16, empty Opus packet). */
  | 'bad_payload_length'
  /** The payload decodes to more samples than `out` holds. */
  | 'frame_too_long'
  /** decode() after close(). */
  | 'decoder_closed';

export class DecodeError extends Error {
  readonly code: DecodeErrorCode;
  constructor(code: DecodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DecodeError';
    this.code = code;
  }
}

export interface FrameDecoder {
  /** Output rate in Hz. */
  readonly sampleRate: number;
  /**
   * Decodes one payload into out[0..n) and returns n. Throws DecodeError; after a
   * 'decode_failed', 'bad_payload_length' or 'frame_too_long' the decoder is still usable.
   */
  decode(payload: Uint8Array, out: Float32Array): number;
  /** Releases the decoder; safe to call twice. */
  close(): void;
}

export type DecoderCodec = 'opus' | 'pcm16' | 'pcmu' | 'pcma' | 'g722';

function checkRate(sampleRate: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new TypeError(`sampleRate must be a positive integer in Hz, got ${sampleRate}`);
}

function tooLong(samples: number, out: Float32Array): DecodeError {
  return new DecodeError('frame_too_long', `payload holds ${samples} samples; the output buffer takes at most ${out.length}`);
}

function closedError(): DecodeError {
  return new DecodeError('decoder_closed', 'decode() called after close()');
}

/** Signed 16-bit little-endian PCM, mono. */
class Pcm16Decoder implements FrameDecoder {
  readonly sampleRate: number;
  private closed = false;
  constructor(sampleRate: number) {
    this.sampleRate = sampleRate;
  }
  decode(payload: Uint8Array, out: Float32Array): number {
    if (this.closed) throw closedError();
    if ((payload.length & 1) !== 0) {
      throw new DecodeError('bad_payload_length', `pcm16 payload is ${payload.length} bytes; it must be a whole number of 2-byte samples`);
    }
    const n = payload.length >> 1;
    if (n > out.length) throw tooLong(n, out);
    for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = (((payload[j] | (payload[j + 1] << 8)) << 16) >> 16) / 32768;
    return n;
  }
  close(): void {
    this.closed = true;
  }
}

/**
 * G.711 mu-law or A-law, one byte a sample. G.711 proper is 8 kHz, but companding does not
 * depend on the rate, so any rate the session declared is accepted.
 */
class G711Decoder implements FrameDecoder {
  readonly sampleRate: number;
  private readonly kernel: (src: Uint8Array, dst: Float32Array) => number;
  private closed = false;
  constructor(law: 'pcmu' | 'pcma', sampleRate: number) {
    this.sampleRate = sampleRate;
    this.kernel = law === 'pcmu' ? decodeMulaw : decodeAlaw;
  }
  decode(payload: Uint8Array, out: Float32Array): number {
    if (this.closed) throw closedError();
    if (payload.length > out.length) throw tooLong(payload.length, out);
    return this.kernel(payload, out);
  }
  close(): void {
    this.closed = true;
  }
}

/**
 * A decoder for `codec` producing mono samples at `sampleRate` Hz. Opus decodes at any of
 * OPUS_SAMPLE_RATES whatever rate it was encoded at; PCM codecs do not resample, so
 * `sampleRate` is the stream's own rate; G.722 decodes at 16000 Hz only. Throws a TypeError for an unknown codec or a rate
 * the codec cannot produce.
 */
export function createDecoder(codec: DecoderCodec, sampleRate: number): FrameDecoder {
  switch (codec) {
    case 'opus':
      return new OpusFrameDecoder(sampleRate as OpusSampleRate);
    case 'pcm16':
      checkRate(sampleRate);
      return new Pcm16Decoder(sampleRate);
    case 'pcmu':
    case 'pcma':
      checkRate(sampleRate);
      return new G711Decoder(codec, sampleRate);
    case 'g722':
      if (sampleRate !== G722_SAMPLE_RATE) throw new TypeError(`g722 decodes to ${G722_SAMPLE_RATE} Hz only; got ${sampleRate}`);
      return new G722FrameDecoder();
    default:
      throw new TypeError(`codec must be one of opus, pcm16, pcmu, pcma, g722; got ${String(codec)}`);
  }
}
