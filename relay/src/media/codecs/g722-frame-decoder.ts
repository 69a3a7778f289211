/**
 * G.722 (ITU-T G.722, 64 kbit/s mode 1) as a FrameDecoder: one payload byte holds one
 * lower-band and one higher-band code, which the receive QMF turns into two 16 kHz samples.
 * RTP carries it as static payload type 9 with an 8000 Hz clock (RFC 3551 §4.5.2), so a
 * 20 ms packet is 160 bytes and 320 samples. The decoder keeps ADPCM state across payloads:
 * one decoder per stream, fed in order.
 */
import { DecodeError, type FrameDecoder } from './decoder.ts';
import { G722Decoder, type G722Mode } from './g722.ts';

/** G.722's output rate, Hz: fixed by the codec. */
export const G722_SAMPLE_RATE = 16000;

export class G722FrameDecoder implements FrameDecoder {
  readonly sampleRate = G722_SAMPLE_RATE;
  private readonly kernel: G722Decoder;
  private closed = false;

  /** @param mode 1 = 64, 2 = 56, 3 = 48 kbit/s (the lower band's bits used); RTP streams are mode 1. */
  constructor(mode: G722Mode = 1) {
    this.kernel = new G722Decoder(mode);
  }

  decode(payload: Uint8Array, out: Float32Array): number {
    if (this.closed) throw new DecodeError('decoder_closed', 'decode() called after close()');
    if (payload.length === 0) throw new DecodeError('bad_payload_length', 'G.722 payload is empty; it must hold at least one byte (two samples)');
    const n = payload.length * 2;
    if (n > out.length) throw new DecodeError('frame_too_long', `payload holds ${n} samples; the output buffer takes at most ${out.length}`);
    return this.kernel.decodeFloat(payload, out);
  }

  close(): void {
    this.closed = true;
  }
}
