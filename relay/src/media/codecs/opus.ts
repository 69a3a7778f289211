/**
 * Opus (RFC 6716) decoding for the relay: one decoder per stream, on libopus through its C
 * API (libopus.ts, the WebAssembly build @evan/opus ships; that library was chosen by
 * measurement in bench/opus-decoders.ts). It decodes synchronously, refuses an invalid
 * packet with the decoder state unharmed, and conceals with libopus's own packet loss
 * concealment and in-band FEC. An empty packet is refused here: a lost packet is
 * concealment's business (`conceal`, `recover`), not decode's. Nothing is allocated per
 * packet. The encoder, for the simulator and tests, is opus-encoder.ts.
 */

import { DecodeError, OPUS_SAMPLE_RATES, type FrameDecoder, type OpusSampleRate } from './decoder.ts';
import { LibopusDecoder } from './libopus.ts';

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
  private decoder: LibopusDecoder | null;

  /** @param sampleRate output rate in Hz, whatever rate the stream was encoded at. */
  constructor(sampleRate: OpusSampleRate) {
    if (!(OPUS_SAMPLE_RATES as readonly number[]).includes(sampleRate)) {
      throw new TypeError(`Opus decodes at ${OPUS_SAMPLE_RATES.join(', ')} Hz, not ${sampleRate}`);
    }
    this.sampleRate = sampleRate;
    this.decoder = new LibopusDecoder(sampleRate);
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
    try {
      return decoder.decode(packet, out, out.length);
    } catch (e) {
      throw new DecodeError('decode_failed', `Opus packet of ${packet.length} bytes rejected by libopus: ${errorMessage(e)}`, { cause: e });
    }
  }

  /**
   * libopus's packet loss concealment: `samples` lost samples (a multiple of 2.5 ms, at most
   * out.length) extrapolated into `out`; returns how many were written.
   */
  conceal(out: Float32Array, samples: number): number {
    return this.live().conceal(out, Math.min(samples, out.length));
  }

  /** The `samples` lost just before `next`, from `next`'s in-band FEC (or concealed when it has none). */
  recover(next: Uint8Array, out: Float32Array, samples: number): number {
    try {
      return this.live().recover(next, out, Math.min(samples, out.length));
    } catch {
      // A next packet libopus refuses carries no usable FEC either.
      return this.live().conceal(out, Math.min(samples, out.length));
    }
  }

  /** Releases the decoder; safe to call twice. */
  close(): void {
    this.decoder?.close();
    this.decoder = null;
  }

  private live(): LibopusDecoder {
    if (this.decoder === null) throw new DecodeError('decoder_closed', 'decoder used after close()');
    return this.decoder;
  }
}

