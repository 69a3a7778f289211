/**
 * Seed 001's JSON audio messages, `{"type":"audio","data":<base64 PCM16LE>,"source":...}`:
 * no header, so one depacketizer per source numbers the packets and stamps each with the
 * media time of its first sample, from the samples sent before it.
 */
import { CODEC_IDS, SEQUENCE_MODULUS, TIMESTAMP_MODULUS } from '../../../protocol/frame.ts';
import type { AudioMessage } from '../../../protocol/ingest.ts';
import type { Depacketized, Depacketizer } from './depacketizer.ts';

export class JsonAudioDepacketizer implements Depacketizer<AudioMessage> {
  private sequence = 0;
  /** Samples sent so far: the timestamp of the next packet, exact (no rounding drift). */
  private samples = 0;

  constructor(private readonly sampleRate: number) {}

  depacketize(message: AudioMessage): Depacketized {
    const payload = Buffer.from(message.data, 'base64');
    const packet = {
      timestampMs: Math.floor((this.samples * 1000) / this.sampleRate) % TIMESTAMP_MODULUS,
      sequence: this.sequence,
      codec: CODEC_IDS.pcm16,
      flags: 0,
      payload,
    };
    this.sequence = (this.sequence + 1) % SEQUENCE_MODULUS;
    this.samples += payload.length >> 1;
    return { ok: true, packet };
  }
}
