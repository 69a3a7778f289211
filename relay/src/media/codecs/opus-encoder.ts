/**
 * Opus encoding (RFC 6716), for the simulator, tests and benchmarks: @evan/opus's encoder,
 * its native build where it loads (the relay's media workers never load this file).
 */
import { Encoder } from '@evan/opus';
import { OPUS_SAMPLE_RATES, type OpusSampleRate } from './decoder.ts';

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
    const encoder = new Encoder({ channels: 1, sample_rate: this.sampleRate, application });
    encoder.bitrate = bitrate;
    if (inbandFecLossPercent !== undefined) {
      encoder.inband_fec = true;
      encoder.packet_loss = inbandFecLossPercent;
    }
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
