/**
 * Twilio Media Streams' `media` messages (protocol/twilio.ts): base64 µ-law at 8000 Hz,
 * placed by Twilio's own numbering. `media.chunk` counts the media messages of one track, so
 * a gap in it is a lost message and the station conceals it, as for binary frames; the
 * `timestamp` (ms since the stream started) is the packet's media time. Not
 * `sequenceNumber`: it counts every message of the stream (the other track's media, marks,
 * DTMF), and would show a loss wherever one of those came in between.
 */
import { CODEC_IDS, SEQUENCE_MODULUS, TIMESTAMP_MODULUS } from '../../../protocol/frame.ts';
import { TWILIO_SAMPLE_RATE } from '../../../protocol/twilio.ts';
import type { Depacketized, Depacketizer } from './depacketizer.ts';
import type { TwilioEvent } from './twilio-messages.ts';

export type TwilioMediaEvent = Extract<TwilioEvent, { event: 'media' }>;

/** The longest payload accepted: 120 ms, the ingest's packet limit (960 µ-law bytes). */
export const MAX_TWILIO_PAYLOAD_BYTES = (TWILIO_SAMPLE_RATE * 120) / 1000;

export class TwilioDepacketizer implements Depacketizer<TwilioMediaEvent> {
  depacketize(message: TwilioMediaEvent): Depacketized {
    const payload = Buffer.from(message.payload, 'base64');
    if (payload.length > MAX_TWILIO_PAYLOAD_BYTES) {
      return { ok: false, code: 'frame_too_long', message: `media.payload holds ${payload.length} µ-law bytes; at most ${MAX_TWILIO_PAYLOAD_BYTES} (120 ms) per message` };
    }
    return {
      ok: true,
      packet: {
        timestampMs: message.timestampMs % TIMESTAMP_MODULUS,
        sequence: message.chunk % SEQUENCE_MODULUS,
        codec: CODEC_IDS.pcmu,
        flags: 0,
        payload,
      },
    };
  }
}
