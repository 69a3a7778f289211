/**
 * Opus (RFC 6716) for the relay: a per-stream decoder and, for the simulator and tests, an
 * encoder. Both wrap @evan/opus, chosen by measurement (bench/opus-decoders.ts): it was the
 * fastest of the installed libraries at 48, 16 and 8 kHz, decodes synchronously, throws on an
 * invalid packet with the decoder state unharmed, and supports every decoder rate. It loads a
 * native prebuilt binary and falls back to its own WebAssembly build, which behaves the same
 * except for the empty packet (the wasm build conceals, the native one throws), so empty
 * packets are refused here before the library sees them.
 *
 * Decoding allocates only what the library forces: @evan/opus returns each decoded frame as a
 * fresh int16 byte array, which is converted into the caller's Float32Array.
 */

import { Decoder, Encoder } from '@evan/opus';
import { DecodeError, OPUS_SAMPLE_RATES, type FrameDecoder, type OpusSampleRate } from './decoder.ts';

/** The longest packet Opus allows (RFC 6716 §3.2.5): 120 ms, in 48 kHz samples. */
export const OPUS_MAX_PACKET_SAMPLES_48K = 5760;

const SILK_FRAME_48K = [480, 960, 1920, 2880]; // 10, 20, 40, 60 ms
const HYBRID_FRAME_48K = [480, 960]; // 10, 20 ms
const CELT_FRAME_48K = [120, 240, 480, 960]; // 2.5, 5, 10, 20 ms

/**
 * Samples per channel a packet holds, at 48 kHz, from its TOC byte and frame count
 * (RFC 6716 §3.1, §3.2); 0 when the packet is too short to say. Does not validate the rest.
 */
export function opusPacketSamples48k(packet: Uint8Array): number {
  if (packet.length === 0) return 0;
  const toc = packet[0];
  const config = toc >> 3;
  const frame = config < 12 ? SILK_FRAME_48K[config & 3] : config < 16 ? HYBRID_FRAME_48K[config & 1] : CELT_FRAME_48K[config & 3];
  const code = toc & 3;
  if (code === 0) return frame;
  if (code !== 3) return 2 * frame;
  return packet.length < 2 ? 0 : frame * (packet[1] & 0x3f);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Decodes one mono Opus stream at a chosen output rate. */
export class OpusFrameDecoder implements FrameDecoder {
  readonly sampleRate: OpusSampleRate;
  private decoder: Decoder | null;

  /** @param sampleRate output rate in Hz, whatever rate the stream was encoded at. */
  constructor(sampleRate: OpusSampleRate) {
    if (!(OPUS_SAMPLE_RATES as readonly number[]).includes(sampleRate)) {
      throw new TypeError(`Opus decodes at ${OPUS_SAMPLE_RATES.join(', ')} Hz, not ${sampleRate}`);
    }
    this.sampleRate = sampleRate;
    this.decoder = new Decoder({ channels: 1, sample_rate: sampleRate });
  }

  /**
   * Decodes one packet into out[0..n) as float ±1.0 and returns n. Throws DecodeError:
   * 'bad_payload_length' for an empty packet (RFC 6716 §3.4 [R1]: at least one byte; a lost
   * packet is concealment's business, not decode's), 'frame_too_long' when the packet holds
   * more than out.length samples, 'decode_failed' when libopus rejects it. None of these
   * touch the decoder state: the next good packet decodes as if the bad one never came.
   * Random bytes often parse as a valid packet and decode to noise; no decoder can tell.
   */
  decode(packet: Uint8Array, out: Float32Array): number {
    const decoder = this.decoder;
    if (decoder === null) throw new DecodeError('decoder_closed', 'decode() called after close()');
    if (packet.length === 0) throw new DecodeError('bad_payload_length', 'empty Opus packet: a packet has at least a TOC byte (RFC 6716 §3.4 [R1])');
    const samples48k = opusPacketSamples48k(packet);
    if (samples48k > OPUS_MAX_PACKET_SAMPLES_48K) {
      throw new DecodeError('decode_failed', `Opus packet claims ${samples48k / 48} ms; at most 120 ms is allowed (RFC 6716 §3.2.5)`);
    }
    const expected = (samples48k * this.sampleRate) / 48000;
    if (expected > out.length) {
      throw new DecodeError('frame_too_long', `Opus packet holds ${expected} samples at ${this.sampleRate} Hz; the output buffer takes at most ${out.length}`);
    }
    let pcm: Uint8Array;
    try {
      pcm = decoder.decode(packet);
    } catch (e) {
      throw new DecodeError('decode_failed', `Opus packet of ${packet.length} bytes rejected by libopus: ${errorMessage(e)}`, { cause: e });
    }
    const n = pcm.length >> 1;
    if (n > out.length) throw new DecodeError('frame_too_long', `Opus packet decoded to ${n} samples; the output buffer takes at most ${out.length}`);
    for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = (((pcm[j] | (pcm[j + 1] << 8)) << 16) >> 16) / 32768;
    return n;
  }

  /** Releases the decoder (the wasm fallback frees its memory; native memory is GC-owned). */
  close(): void {
    if (this.decoder === null) return;
    (this.decoder as { drop?: () => void }).drop?.();
    this.decoder = null;
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
}

/** OPUS_GET_LOOKAHEAD_REQUEST (opus_defines.h). */
const OPUS_GET_LOOKAHEAD = 4027;

/** Encodes mono 16-bit PCM frames to Opus packets (for the simulator and tests). */
export class OpusFrameEncoder {
  readonly sampleRate: OpusSampleRate;
  /** Samples per input frame. */
  readonly frameSamples: number;
  /** Encoder delay in samples at sampleRate: decoded audio lags the input by this much. */
  readonly lookaheadSamples: number;
  private encoder: Encoder | null;

  constructor(opts: OpusEncoderOptions) {
    const { sampleRate, bitrate = 32000, frameMs = 20, application = 'voip' } = opts;
    if (!(OPUS_SAMPLE_RATES as readonly number[]).includes(sampleRate)) {
      throw new TypeError(`Opus encodes at ${OPUS_SAMPLE_RATES.join(', ')} Hz, not ${sampleRate}`);
    }
    if (![10, 20, 40, 60].includes(frameMs)) throw new TypeError(`frameMs must be 10, 20, 40 or 60, got ${frameMs}`);
    if (!Number.isInteger(bitrate) || bitrate < 6000 || bitrate > 510000) {
      throw new TypeError(`bitrate must be an integer from 6000 to 510000 bit/s, got ${bitrate}`);
    }
    this.sampleRate = sampleRate as OpusSampleRate;
    this.frameSamples = (sampleRate * frameMs) / 1000;
    const encoder = new Encoder({ channels: 1, sample_rate: this.sampleRate, application });
    encoder.bitrate = bitrate;
    this.lookaheadSamples = encoder.ctl(OPUS_GET_LOOKAHEAD);
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
